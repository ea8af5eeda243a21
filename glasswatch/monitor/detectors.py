"""River drift detectors (ADWIN, Page-Hinkley, KSWIN) over one signal, with a :class:`Decision` output.

Detectors see one value per closed window (the signal, e.g. a feature's window mean), not every
event: that is cheap (a few microseconds per window) and makes the detectors' units windows,
like the thresholds'. During ``warmup`` the wrapper learns the signal's mean and standard
deviation; from then on it feeds River *standardised* values ``z = (x - mean) / std`` (the
warm-up values included, once), so parameters such as Page-Hinkley's ``threshold`` are in
standard deviations and one default fits every signal. A detection opens the alert; it resolves
after ``resolve_after`` consecutive windows without a new detection (a detector reports *that* a
change happened, not that the signal is still changed — the thresholds cover that).

State is plain Python and River objects: ``pickle`` round-trips it (restart-safe).

Examples
--------
>>> import random
>>> rng = random.Random(3)
>>> det = DriftDetector("page_hinkley", warmup=20, resolve_after=3)
>>> xs = [rng.gauss(0, 1) for _ in range(60)] + [rng.gauss(4, 1) for _ in range(20)]
>>> [i for i, x in enumerate(xs) if det.update(x).decision.state == "firing"]
[65]
"""

from __future__ import annotations

import math
from typing import Any, Literal

from river import drift, stats

from glasswatch.monitor.thresholds import Decision, Latch

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

    def __init__(
        self,
        kind: DetectorKind,
        params: dict[str, Any] | None = None,
        warmup: int = 20,
        resolve_after: int = 10,
        min_std: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.params = params
        self.warmup = warmup
        self.resolve_after = resolve_after
        self.min_std = min_std
        self.seed = seed
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
            mean = self._var.mean.get()
            std = max(math.sqrt(max(self._var.get(), 0.0)), self.min_std, 1e-9 * abs(mean), 1e-12)
            self._scale = (mean, std)
            detected = any([self._feed(v, c) for v, c in self._pending])
            self._pending = []
        else:
            detected = self._feed(x, n)
        self.n_detections += detected
        state = self._latch.step(detected)
        self._decision = Decision(state, x, (None, None), detected, self._latch.active, self._z(x, n))
        return self
