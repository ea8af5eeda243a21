"""Replay-based calibration: pick the parameter that gives a target false-alarm rate.

**One signal** (:func:`calibrate`). Replay a *reference* stream (values believed normal, e.g. one
signal's window values from a known-good week) through a detector or threshold built by
``factory(param)``; every ``firing`` transition is a false alarm. The rate is expressed per 10,000
events (each value stands for ``events_per_value`` events, e.g. the window size). Assuming the rate
falls as ``param`` grows (``k`` of a band, Page-Hinkley ``threshold``), bisection finds the smallest
``param`` in ``[lo, hi]`` whose rate is at or below the target.

**A whole spec** (:func:`calibrate_spec`, ``glasswatch calibrate``). Given a
:class:`~glasswatch.monitor.specs.MonitorSpec` and one or more clean event streams, it finds for
each rule *family* of the spec's ``default`` — the learned band (``k``), Page-Hinkley
(``threshold``), ADWIN (``delta``), KSWIN (``alpha``) — the least conservative value whose false
alarms (firing alerts whose ``labels["source"]`` is ``dynamic`` / ``detector:<kind>``) stay at or
below the family's target per 100,000 events. The model's budget is split equally over the
families calibrated. Each family is replayed *alone* (a spec whose ``default`` holds only that rule):
fingerprints are shared, so the families together raise at most the sum of their rates. Signals
matched by a ``signals`` pattern keep their own rules and are neither measured nor changed.
ADWIN's ``delta`` and KSWIN's ``alpha`` alarm *less* when smaller; they are searched in log space
(:data:`SEARCHES`). The value found is rounded to 3 significant digits towards fewer alarms and
measured again.

The events are read once (:class:`CleanHistory`): windows, statistics and anomaly flags do not
depend on the rules, so every replay of a candidate is a fresh
:class:`~glasswatch.monitor.model_monitor.ModelMonitor` judging the recorded closed windows —
the alerts of a full replay of the events (a unit test compares the two), at the cost of the
windows only. Replays are deterministic, so the result is too.

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

A spec over a simulated clean stream (2 s windows of ~200 events):

>>> from glasswatch.monitor.specs import MonitorSpec
>>> from glasswatch.testing.simulate import simulate
>>> spec = MonitorSpec(model="m", window={"size_seconds": 2}, anomaly={"enabled": False})
>>> result = calibrate_spec(spec, simulate(20_000, n_features=2, seed=0), false_alarms_per_100k=15.0)
>>> {f: (c.param, c.target_per_100k, c.met) for f, c in result.families.items()}
{'dynamic': ('k', 5.0, True), 'page_hinkley': ('threshold', 5.0, True), 'adwin': ('delta', 5.0, True)}
>>> result.calibrated_spec().default.dynamic.k == result.families["dynamic"].value
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Literal, Protocol

from glasswatch.errors import ConfigError
from glasswatch.monitor.closed_window import ClosedWindow
from glasswatch.monitor.detectors import DEFAULT_PARAMS
from glasswatch.monitor.false_alarms import CALIBRATED_FALSE_ALARMS_PER_100K, CALIBRATION_EVENTS
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.specs import DetectorSpec, DynamicParams, MonitorSpec, SignalSpec
from glasswatch.monitor.thresholds import Decision
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.events import LabelEvent

__all__ = [
    "CALIBRATED_FALSE_ALARMS_PER_100K",
    "CALIBRATION_EVENTS",
    "FAMILIES",
    "MIN_JUDGED_WINDOWS",
    "SEARCHES",
    "Alarm",
    "Calibration",
    "CleanHistory",
    "Family",
    "FamilyCalibration",
    "ParamSearch",
    "SpecCalibration",
    "calibrate",
    "calibrate_spec",
    "current_value",
    "enabled_families",
    "false_alarm_rate",
    "with_value",
]

Family = Literal["dynamic", "page_hinkley", "adwin", "kswin"]
FAMILIES: tuple[Family, ...] = ("dynamic", "page_hinkley", "adwin", "kswin")



MIN_JUDGED_WINDOWS = 10
"""Closed windows a history needs past the longest warm-up for a calibration to measure anything."""


@dataclass(frozen=True)
class ParamSearch:
    """Where a family's parameter is searched: its name, bounds, scale and which way alarms less."""

    param: str
    lo: float
    hi: float
    log: bool
    stricter: Literal["larger", "smaller"]


SEARCHES: dict[Family, ParamSearch] = {
    "dynamic": ParamSearch("k", 1.0, 30.0, log=False, stricter="larger"),
    "page_hinkley": ParamSearch("threshold", 1.0, 1000.0, log=True, stricter="larger"),
    "adwin": ParamSearch("delta", 1e-12, 0.5, log=True, stricter="smaller"),
    "kswin": ParamSearch("alpha", 1e-12, 0.5, log=True, stricter="smaller"),
}


# -- one signal --------------------------------------------------------------------------------


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


def _bisect(rate: Callable[[float], float], s: ParamSearch, target: float, iterations: int) -> float:
    """The least conservative value known to meet ``target``, or the strictest end if none does."""
    to, back = (math.log, math.exp) if s.log else (float, float)
    strict, loose = (s.hi, s.lo) if s.stricter == "larger" else (s.lo, s.hi)
    if rate(strict) > target:
        return strict
    if rate(loose) <= target:
        return loose
    for _ in range(iterations):
        mid = back((to(strict) + to(loose)) / 2)
        if rate(mid) <= target:
            strict = mid
        else:
            loose = mid
    return strict


# -- a whole spec ------------------------------------------------------------------------------


def _source(family: Family) -> str:
    return "dynamic" if family == "dynamic" else f"detector:{family}"


def enabled_families(spec: MonitorSpec) -> tuple[Family, ...]:
    """The rule families of ``spec.default``, in :data:`FAMILIES` order."""
    d = spec.default
    kinds = {ds.kind for ds in d.detectors}
    return tuple(f for f in FAMILIES if d.enabled and (f in kinds or (f == "dynamic" and d.dynamic)))


def _detector(sig: SignalSpec, family: Family) -> DetectorSpec:
    return next((d for d in sig.detectors if d.kind == family), DetectorSpec(kind=family))


def current_value(spec: MonitorSpec, family: Family) -> float:
    """The family's parameter in ``spec.default`` (glasswatch's default when the rule is not there)."""
    if family == "dynamic":
        return float((spec.default.dynamic or DynamicParams()).k)
    ds = _detector(spec.default, family)
    return float({**DEFAULT_PARAMS[family], **ds.params}[SEARCHES[family].param])


def with_value(spec: MonitorSpec, family: Family, value: float, *, alone: bool = False) -> MonitorSpec:
    """``spec`` with ``family``'s parameter at ``value`` in its ``default`` rules (a rule that is
    not there is not added). ``alone``: the default holds only that rule (added if absent) and
    the ``signals`` overrides hold no rule at all (what a calibration replays)."""
    d, name = spec.default, SEARCHES[family].param
    fields: dict[str, object]
    if family == "dynamic":
        base = d.dynamic or (DynamicParams() if alone else None)
        fields = {"dynamic": base.model_copy(update={"k": value}) if base is not None else None}
        if alone:
            fields["detectors"] = ()
    else:

        def tune(ds: DetectorSpec) -> DetectorSpec:
            return ds.model_copy(update={"params": {**ds.params, name: value}})

        if alone:
            fields = {"dynamic": None, "detectors": (tune(_detector(d, family)),)}
        else:
            fields = {"detectors": tuple(tune(ds) if ds.kind == family else ds for ds in d.detectors)}
    if not alone:
        return spec.model_copy(update={"default": d.model_copy(update=fields)})
    signals = {p: SignalSpec(enabled=o.enabled, dynamic=None, detectors=()) for p, o in spec.signals.items()}
    default = d.model_copy(update={**fields, "static": None})
    return spec.model_copy(update={"default": default, "signals": signals})


def _layout(spec: MonitorSpec) -> tuple[object, ...]:
    """What a spec's closed windows depend on (its rules do not change them)."""
    return (spec.model, spec.window, spec.features, spec.categorical, spec.anomaly, spec.seed)


class CleanHistory:
    """The closed windows of one clean event stream under ``spec``'s windows: the one pass over
    the events a calibration makes (fed in chunks of ``chunk``; the stream may be a generator).
    Windows still open at the end are left out, as a live worker would not have judged them yet.

    >>> from glasswatch.testing.simulate import simulate
    >>> spec = MonitorSpec(model="m", window={"size_seconds": 1}, anomaly={"enabled": False})
    >>> h = CleanHistory(spec, simulate(1000, rate=100, seed=1))
    >>> h.events, len(h.windows), round(h.rate)
    (1000, 9, 103)
    """

    def __init__(self, spec: MonitorSpec, events: Iterable[Located], chunk: int = 50_000) -> None:
        self.spec = spec
        blank = SignalSpec(dynamic=None, detectors=())
        mon = ModelMonitor(spec.model_copy(update={"default": blank, "signals": {}}))
        windows: list[ClosedWindow] = []
        self.events, first, last = 0, None, None
        stream = (r for r in events if not isinstance(r.event, LabelEvent))
        while batch := list(islice(stream, chunk)):
            windows += mon.update_many(batch).windows
            self.events += len(batch)
            first, last = first or batch[0].event.event_time, batch[-1].event.event_time
        self.windows: tuple[ClosedWindow, ...] = tuple(windows)
        span = (last - first).total_seconds() if first and last else 0.0
        self.rate = (self.events - 1) / span if span > 0 else 0.0
        """Events per second of event time (first to last event)."""
        self._aggregator = mon.windows  # for its first event time (a partial first window)

    def alerts(self, spec: MonitorSpec) -> list[Alert]:
        """Every alert ``spec`` raises on these windows: those of a full replay of the events by a
        fresh monitor (``spec`` must window like the history's spec; its rules may differ)."""
        if _layout(spec) != _layout(self.spec):
            raise ValueError("spec windows the events differently from the history's spec")
        mon = ModelMonitor(spec)
        mon.windows = self._aggregator  # only read (first_event_time) when judging windows
        # judging recorded windows is ModelMonitor.update_many after its windows closed
        return mon._evaluate(list(self.windows))

    def check(self, warmup: int) -> None:
        """:class:`ConfigError` when the history is empty or closes too few windows past ``warmup``."""
        if not self.events:
            raise ConfigError(f"the clean history is empty: no events of model {self.spec.model!r}")
        need = warmup + MIN_JUDGED_WINDOWS
        if len(self.windows) < need:
            size = self.spec.window.size_seconds
            wanted = math.ceil((need + 1) * size * self.rate) if self.rate else None
            about = f"about {wanted:,} events at its rate of {self.rate:.3g} events/s" if wanted else (
                f"{need + 1} windows of {size:g} s of events")  # fmt: skip
            raise ConfigError(
                f"the clean history is too short: its {self.events:,} events close {len(self.windows)} "
                f"windows of {size:g} s; calibrating needs {need} closed windows (warm-up {warmup} + "
                f"{MIN_JUDGED_WINDOWS} judged): {about}"
            )


@dataclass(frozen=True)
class FamilyCalibration:
    """One family's result: ``value`` of ``param`` with ``false_alarms`` (``per_100k``) on the
    clean histories, against ``target_per_100k``; ``current`` is the spec's value before, with its
    rate ``current_per_100k``; ``history`` every (value, rate per 100k) replayed."""

    family: Family
    param: str
    value: float
    false_alarms: int
    per_100k: float
    target_per_100k: float
    met: bool
    current: float
    current_per_100k: float
    history: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class SpecCalibration:
    """The result of :func:`calibrate_spec`: per family, and the spec it started from."""

    spec: MonitorSpec
    events: int
    windows: int
    target_per_100k: float
    families: dict[str, FamilyCalibration]

    @property
    def replays(self) -> int:
        return sum(len(f.history) for f in self.families.values())

    def calibrated_spec(self) -> MonitorSpec:
        """The spec with every calibrated value in ``default`` (rules not in the default are not
        added; ``signals`` overrides kept as they were)."""
        spec = self.spec
        for f in self.families.values():
            spec = with_value(spec, f.family, f.value)
        return spec


def _round(x: float, up: bool) -> float:
    """``x`` to 3 significant digits, rounded up or down."""
    q = 10.0 ** (math.floor(math.log10(abs(x))) - 2)
    return float(f"{(math.ceil(x / q) if up else math.floor(x / q)) * q:.3g}")


def calibrate_spec(
    spec: MonitorSpec,
    *streams: Iterable[Located] | CleanHistory,
    false_alarms_per_100k: float = 1.0,
    families: Sequence[Family] | None = None,
    iterations: int = 8,
    progress: Callable[[FamilyCalibration], None] | None = None,
) -> SpecCalibration:
    """Calibrate ``families`` (default: :func:`enabled_families`) of ``spec`` on clean ``streams``
    (each its own history: a monitor from scratch, warm-up included) so that each raises at most
    ``false_alarms_per_100k / len(families)`` false alarms per 100,000 events; ``progress`` is
    called with each family's result. :class:`ConfigError` for an empty or too short history."""
    histories = [s if isinstance(s, CleanHistory) else CleanHistory(spec, s) for s in streams]
    if not histories:
        raise ConfigError("no clean history given")
    chosen = tuple(enabled_families(spec) if families is None else families)
    d = spec.default
    warmup = max(((d.dynamic or DynamicParams()).warmup if f == "dynamic" else _detector(d, f).warmup
                  for f in chosen), default=0)  # fmt: skip
    for h in histories:
        h.check(warmup)
    target = false_alarms_per_100k / max(len(chosen), 1)
    results: dict[str, FamilyCalibration] = {}
    for family in chosen:
        results[family] = _calibrate_family(spec, histories, family, target, iterations)
        if progress is not None:
            progress(results[family])
    events, windows = sum(h.events for h in histories), sum(len(h.windows) for h in histories)
    return SpecCalibration(spec, events, windows, false_alarms_per_100k, results)


def _calibrate_family(
    spec: MonitorSpec, histories: Sequence[CleanHistory], family: Family, target: float, iterations: int
) -> FamilyCalibration:
    events, source, s = sum(h.events for h in histories), _source(family), SEARCHES[family]
    counts: dict[float, int] = {}  # value -> firing alerts of the family alone, every value replayed

    def per_100k(value: float) -> float:
        if value not in counts:
            alone = with_value(spec, family, value, alone=True)
            counts[value] = sum(a.status.value == "firing" and a.labels.get("source") == source
                                for h in histories for a in h.alerts(alone))  # fmt: skip
        return counts[value] * 1e5 / events

    value = _bisect(per_100k, s, target, iterations)
    if value not in (s.lo, s.hi):
        value = min(max(_round(value, up=s.stricter == "larger"), s.lo), s.hi)
    rate, current = per_100k(value), current_value(spec, family)
    return FamilyCalibration(
        family, s.param, value, counts[value], rate, target, rate <= target, current, per_100k(current),
        tuple((v, c * 1e5 / events) for v, c in counts.items()),
    )  # fmt: skip
