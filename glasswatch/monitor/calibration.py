"""Replay-based calibration: pick the parameter that gives a target false-alarm rate.

Replay a *reference* stream (values believed normal, e.g. one signal's window values from a
known-good week) through a detector or threshold built by ``factory(param)``; every ``firing``
transition is a false alarm. The rate is expressed per 10,000 events (each value stands for
``events_per_value`` events, e.g. the window size). Assuming the rate falls as ``param`` grows
(``k`` of a band, Page-Hinkley ``threshold``), bisection finds the smallest ``param`` in
``[lo, hi]`` whose rate is at or below the target. Replays are deterministic, so the result is too.

Examples
--------
>>> import random
>>> from glasswatch.monitor.thresholds import DynamicThreshold
>>> rng = random.Random(0)
>>> reference = [rng.gauss(0, 1) for _ in range(3000)]
>>> cal = calibrate(reference, lambda k: DynamicThreshold(warmup=30, k=k, hysteresis=1),
...                 target_per_10k=10.0, lo=0.5, hi=8.0, iterations=12)
>>> cal.met, 2.0 < cal.param < 4.0, cal.false_alarms_per_10k <= 10.0
(True, True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from glasswatch.monitor.thresholds import Decision

__all__ = ["Alarm", "Calibration", "calibrate", "false_alarm_rate"]


class Alarm(Protocol):
    """Anything with ``update(x)`` and a :class:`Decision` (thresholds and detectors)."""

    def update(self, x: float | None, /) -> object: ...

    @property
    def decision(self) -> Decision: ...


@dataclass(frozen=True)
class Calibration:
    param: float
    false_alarms_per_10k: float
    met: bool
    replays: int
    history: tuple[tuple[float, float], ...]


def false_alarm_rate(values: Sequence[float], alarm: Alarm, events_per_value: float = 1.0) -> float:
    """Replay ``values`` through ``alarm``; firing transitions per 10,000 events."""
    fired = 0
    for v in values:
        alarm.update(v)
        fired += alarm.decision.state == "firing"
    return fired * 10_000 / (len(values) * events_per_value) if values else 0.0


def calibrate(
    reference: Sequence[float],
    factory: Callable[[float], Alarm],
    *,
    target_per_10k: float,
    lo: float,
    hi: float,
    events_per_value: float = 1.0,
    iterations: int = 20,
) -> Calibration:
    """Smallest ``param`` in ``[lo, hi]`` (to bisection precision) meeting ``target_per_10k``.

    ``met`` is false when even ``hi`` fires too often (``param`` is then ``hi``).
    """
    if not lo < hi:
        raise ValueError("calibrate needs lo < hi")
    history: list[tuple[float, float]] = []

    def rate(p: float) -> float:
        r = false_alarm_rate(reference, factory(p), events_per_value)
        history.append((p, r))
        return r

    r_hi = rate(hi)
    if r_hi > target_per_10k:
        return Calibration(hi, r_hi, False, len(history), tuple(history))
    r_lo = rate(lo)
    if r_lo <= target_per_10k:
        return Calibration(lo, r_lo, True, len(history), tuple(history))
    for _ in range(iterations):
        mid = (lo + hi) / 2
        r_mid = rate(mid)
        if r_mid <= target_per_10k:
            hi, r_hi = mid, r_mid
        else:
            lo = mid
    return Calibration(hi, r_hi, True, len(history), tuple(history))
