"""Per-event multivariate anomaly scoring: River half-space trees with a quantile-filter threshold.

The first ``warmup_events`` events fix a range per numeric feature (observed min/max widened by
10 %); afterwards each feature is scaled into ``[0, 1]`` with that fixed range and clipped (a
fixed range keeps a shifted feature visibly out of range, where an online ``MinMaxScaler`` would
stretch to absorb it). Missing values take the warm-up mean. Every ``stride``-th event is scored
by :class:`river.anomaly.HalfSpaceTrees` (seeded) and flagged when its score reaches the running
``q`` quantile of scores (:class:`river.anomaly.QuantileFilter`); flagged events are not learned
(the filter's ``protect_anomaly_detector`` behaviour, done here without scoring twice). Flags are
reported once the trees have learned two reference windows. The share of flagged events per
window is the ``anomaly:rate`` signal.

Half-space trees isolate events that are unusual *jointly* or far outside the warm-up range; a
moderate shift of one feature among many barely changes the flag rate (``bench/detection.py``:
a 0.5-sigma shift of one feature is missed, a 3-sigma one is found) — per-feature bands and
drift detectors cover those. Categorical features are not scored.

Examples
--------
>>> import random
>>> rng = random.Random(1)
>>> sc = AnomalyScorer(warmup_events=200, window_size=50, stride=1, seed=1)
>>> flags = [sc.update({"a": rng.gauss(0, 1), "b": rng.gauss(5, 1)}).flag for _ in range(2000)]
>>> normal = [f for f in flags if f is not None]
>>> round(sum(normal) / len(normal), 2)
0.01
>>> sc.update({"a": 9.0, "b": -4.0}).flag
1.0
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from river import anomaly

__all__ = ["AnomalyScorer"]


class AnomalyScorer:
    """Seeded half-space-tree scorer with a fixed-range scaler learned during warm-up."""

    def __init__(
        self,
        features: Sequence[str] | None = None,
        warmup_events: int = 500,
        q: float = 0.99,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        stride: int = 4,
        seed: int = 0,
    ) -> None:
        self.features = features
        self.warmup_events = warmup_events
        self.q = q
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.stride = stride
        self.seed = seed
        self.filter = anomaly.QuantileFilter(
            anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed), q=q
        )
        self._seen = 0
        self._learned = 0
        self._lo: dict[str, float] = {}
        self._hi: dict[str, float] = {}
        self._sum: dict[str, float] = {}
        self._n: dict[str, int] = {}
        self._scale: dict[str, tuple[float, float, float]] = {}  # name -> (lo, 1/width, fill)
        self._flag: float | None = None
        self._score: float | None = None

    @property
    def flag(self) -> float | None:
        """1.0 if the last event was flagged, 0.0 if not, ``None`` if it was not scored."""
        return self._flag

    @property
    def score(self) -> float | None:
        return self._score

    @property
    def ready(self) -> bool:
        return bool(self._scale)

    def _observe(self, features: Mapping[str, object]) -> None:
        for name, v in features.items():
            if self.features is not None and name not in self.features:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                f = float(v)
                if name not in self._n:
                    self._lo[name], self._hi[name], self._sum[name], self._n[name] = f, f, 0.0, 0
                self._lo[name] = min(self._lo[name], f)
                self._hi[name] = max(self._hi[name], f)
                self._sum[name] += f
                self._n[name] += 1

    def _freeze(self) -> None:
        for name in sorted(self._n):
            lo, hi = self._lo[name], self._hi[name]
            margin = 0.1 * (hi - lo)
            if not margin >= 1e-300:  # constant (or subnormal-spread): a unit margin, at scale
                margin = max(1.0, 1e-9 * abs(lo))  # (1.0 alone vanishes next to 1e100)
            lo, hi = lo - margin, hi + margin
            mean = self._sum[name] / self._n[name]
            self._scale[name] = (lo, 1.0 / (hi - lo), (mean - lo) / (hi - lo))

    def update(self, features: Mapping[str, object] | None) -> AnomalyScorer:
        self._flag = self._score = None
        if features is None:
            return self
        self._seen += 1
        if not self._scale:
            self._observe(features)
            if self._seen >= self.warmup_events:
                self._freeze()
            return self
        if self._seen % self.stride:
            return self
        x: dict[Hashable, Any] = {}
        for name, (lo, inv, fill) in self._scale.items():
            v = features.get(name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                s = (v - lo) * inv
                x[name] = 0.0 if s < 0.0 else 1.0 if s > 1.0 else s
            else:
                x[name] = fill
        score = self.filter.score_one(x)
        flagged = bool(self.filter.classify(score))  # type: ignore[no-untyped-call]
        if not flagged:
            self.filter.anomaly_detector.learn_one(x)
        self.filter.quantile.update(score)
        self._learned += 1
        if self._learned > 2 * self.window_size:
            self._flag, self._score = (1.0 if flagged else 0.0), float(score)
        return self
