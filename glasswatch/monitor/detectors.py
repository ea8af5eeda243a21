"""River drift detectors (ADWIN, Page-Hinkley, KSWIN) over one signal, with a :class:`Decision` output.

Detectors see one value per closed window (the signal, e.g. a feature's window mean), not every
event: that is cheap (a few microseconds per window) and makes the detectors' units windows,
like the thresholds'. During ``warmup`` the wrapper learns the signal's mean and standard
deviation; from then on it feeds River *standardised* values ``z = (x - mean) / std`` (the
warm-up values included, once), so parameters such as Page-Hinkley's ``threshold`` are in
standard deviations and one default fits every signal. A detection opens the alert; it resolves
after ``resolve_after`` consecutive windows without a new detection **and** with the signal back
within ``back_within`` standard deviations of the baseline it was raised against (``|z| <=
back_within``): a detector reports *that* a change happened, and River resets itself after a
detection, so without the second condition a change that persists would resolve itself while the
signal stays changed. The scale never re-learns after warm-up; :meth:`DriftDetector.accept` moves
it to the current level when a person accepts a new normal, :meth:`DriftDetector.seed` sets it
from the model's reference data (no warm-up).

State is plain Python and River objects: ``pickle`` round-trips it (restart-safe).

Examples
--------
>>> import random
>>> rng = random.Random(3)
>>> det = DriftDetector("page_hinkley", warmup=20, resolve_after=3)
>>> xs = [rng.gauss(0, 1) for _ in range(60)] + [rng.gauss(4, 1) for _ in range(20)]
>>> [i for i, x in enumerate(xs) if det.update(x).decision.state == "firing"]
[65]
>>> [det.update(4.0).decision.active for _ in range(12)][-1]  # still changed: still firing
True
>>> back = [det.update(rng.gauss(0, 1)).decision.state for _ in range(30)]  # back to normal
>>> back.index("resolved") >= det.resolve_after - 1, det.decision.active
(True, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from river import drift, stats

from glasswatch.monitor.thresholds import BaselineKind, Decision, Latch

__all__ = ["DEFAULT_PARAMS", "DetectorKind", "DriftDetector", "build_river_detector"]

DetectorKind = Literal["adwin", "page_hinkley", "kswin"]

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    # one value per window: check on every value, short grace period
    "adwin": {"delta": 0.002, "clock": 1, "grace_period": 10, "min_window_length": 5},
    # in standard deviations: drift 0.25 per window, alarm at a cumulative 20
    "page_hinkley": {"min_instances": 10, "delta": 0.25, "threshold": 20.0, "mode": "both"},
    # 40 windows of history, the last 15 against 15 sampled from the older 25
    "kswin": {"alpha": 1e-4, "window_size": 40, "stat_size": 15},
}


def build_river_detector(kind: str, params: dict[str, Any], seed: int) -> Any:
    """The River detector for ``kind`` with glasswatch's defaults overridden by ``params``."""
    merged = {**DEFAULT_PARAMS[kind], **params}
    if kind == "adwin":
        return drift.ADWIN(**merged)  # type: ignore[no-untyped-call]
    if kind == "page_hinkley":
        return drift.PageHinkley(**merged)
    if kind == "kswin":
        return drift.KSWIN(**{"seed": seed, **merged})
    raise ValueError(f"unknown detector kind {kind!r}")


class DriftDetector:
    """One River drift detector behind the glasswatch ``update(x) -> Self`` / ``decision`` API."""

    # class-level defaults: a state pickled before these existed restores with them
    min_rel: float = 0.0
    back_within: float = 3.0
    baseline: BaselineKind = "learned"
    _last: tuple[float, int | None] | None = None

    def __init__(
        self,
        kind: DetectorKind,
        params: dict[str, Any] | None = None,
        warmup: int = 20,
        resolve_after: int = 10,
        min_std: float = 0.0,
        seed: int = 0,
        min_rel: float = 0.0,
        back_within: float = 3.0,
    ) -> None:
        self.kind = kind
        self.params = params
        self.warmup = warmup
        self.resolve_after = resolve_after
        self.min_std = min_std
        self.seed = seed
        self.min_rel = min_rel
        self.back_within = back_within
        self.detector = build_river_detector(kind, dict(params or {}), seed)
        self._latch = Latch(1, resolve_after)
        self._var = stats.Var()
        self._pending: list[tuple[float, int | None]] = []
        self._nref = 0.0
        self._scale: tuple[float, float] | None = None
        self._decision = Decision("none", None, (None, None), False, False)
        self.n_detections = 0

    @property
    def name(self) -> str:
        return self.kind

    @property
    def decision(self) -> Decision:
        return self._decision

    @property
    def drift_detected(self) -> bool:
        return self._decision.breaching

    def _floored(self, mean: float, std: float) -> tuple[float, float]:
        return mean, max(std, self.min_std, max(self.min_rel, 1e-9) * abs(mean), 1e-12)

    def seed_scale(
        self, mean: float, std: float, n_ref: float | None = None, history: Sequence[float] = ()
    ) -> DriftDetector:
        """Start from a known baseline instead of a warm-up: the signal's window mean and standard
        deviation at ``n_ref`` events per window, and ``history``, window values drawn from the
        baseline (bootstrap windows of the reference), which River learns first so that it can
        detect from the first live window (its ``min_instances``/``grace_period`` are spent)."""
        self._scale = self._floored(float(mean), float(std))
        self._nref = float(n_ref or 0.0)
        self._pending = []
        self.detector = build_river_detector(self.kind, dict(self.params or {}), self.seed)
        for v in history:
            self.detector.update(self._z(v, None))
        self._latch = Latch(1, self.resolve_after)
        self.baseline = "reference"
        return self

    def accept(self) -> str:
        """Accept the last value as the new normal: the scale's mean moves to it, River starts
        afresh and an open alert resolves (``resolved``; ``none`` if none was open)."""
        if self._scale is not None and self._last is not None:
            x = self._last[0]
            _, std = self._scale
            self._scale = (x, std)
            self.detector = build_river_detector(self.kind, dict(self.params or {}), self.seed)
        self.baseline = "accepted"
        state = self._latch.reset()
        self._decision = self._decision._replace(state=state, active=False, breaching=False)
        return state

    def _z(self, x: float, n: int | None) -> float:
        assert self._scale is not None
        mean, std = self._scale
        z = (x - mean) / std
        return z * math.sqrt(n / self._nref) if n and self._nref else z

    def _feed(self, x: float, n: int | None) -> bool:
        self.detector.update(self._z(x, n))
        return bool(self.detector.drift_detected)

    def update(self, x: float | None, n: int | None = None) -> DriftDetector:
        """Add one window's value; ``n`` (its event count) rescales ``z`` by ``sqrt(n / n_ref)``.

        ``n_ref`` is the mean count over warm-up, so sparse windows (an event-rate drop) do not
        look like a change in every signal; leave ``n`` out for signals that are not averages.
        """
        if x is None:
            self._decision = self._decision._replace(state="none", value=None, breaching=False)
            return self
        if self._scale is None:
            self._var.update(x)
            self._pending.append((x, n))
            if n:
                self._nref += (n - self._nref) / len(self._pending)
            if len(self._pending) < self.warmup:
                self._decision = Decision("none", x, (None, None), False, False)
                return self
            self._scale = self._floored(self._var.mean.get(), math.sqrt(max(self._var.get(), 0.0)))
            detected = any([self._feed(v, c) for v, c in self._pending])
            self._pending = []
        else:
            detected = self._feed(x, n)
        self._last = (x, n)
        self.n_detections += detected
        z = self._z(x, n)
        # while open, a window still outside the baseline counts as a breach: no resolve
        state = self._latch.step(detected or (self._latch.active and abs(z) > self.back_within))
        self._decision = Decision(state, x, (None, None), detected, self._latch.active, z)
        return self
