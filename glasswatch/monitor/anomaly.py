"""Per-event anomaly scoring: River half-space trees, frozen after warm-up, and a fixed threshold.

Warm-up has three steps, after which nothing is learned any more:

1. **Range.** The first ``warmup_events`` events fix a range per numeric feature (observed
   min/max widened by 10 %); afterwards each feature is scaled into ``[0, 1]`` with that fixed
   range and clipped (a fixed range keeps a shifted feature visibly out of range, where an online
   ``MinMaxScaler`` would stretch to absorb it). Missing values (a reference's NaN too) take the warm-up mean.
2. **Trees.** The next ``window_size`` events fill the reference masses of
   :class:`river.anomaly.HalfSpaceTrees` (seeded); then the trees are *frozen* (never learn again).
3. **Threshold.** The next ``calibration_events`` events (default ``max(window_size, 10/(1-q))``,
   1,000 at ``q = 0.99``) are scored, held out from the trees; the threshold is their
   ``q``-quantile, fixed from then on, and :attr:`AnomalyScorer.expected_rate` the rate that
   order statistic gives new events (about ``1 - q``). Once ``window_size`` scores are in,
   events are flagged against the quantile of the scores so far (provisional: 250 scores put the
   live rate at 0.4-1.6 % at ``q = 0.99``, 1,000 at 0.7-1.3 %, ±1 sd).

Then every ``stride``-th event is scored and flagged when its score is above the threshold; the
share of flagged events per window is the ``anomaly:rate`` signal. Steps 2 and 3 use every event
(a one-off cost): flags start after ``warmup_events + 2 * window_size`` events (1,000 by default;
2,500 before the trees were frozen), the threshold is fixed after ``warmup_events + window_size
+ calibration_events`` (1,750). :meth:`AnomalyScorer.fit` does all three from reference rows (the
training data, up to 50,000 of them for the threshold), so a model with a reference is scored
from its first live event with no warm-up blind spot.

Why frozen: a running quantile and trees that keep learning absorb a covariate shift within a
window or two (the rate even *fell* after a change, the shifted events raising the quantile).
Frozen, a shift keeps the rate up until a person accepts the new normal or the model version is
re-baselined (a slow drift, too, ends up counted). Measured (defaults, 10 N(0, 1) features,
8 seeds, live warm-up or :meth:`~AnomalyScorer.fit` on 2,000 rows; 20,000 clean events, then
8,000 with 3 of the 10 features shifted): clean rate 0.7-1.5 % (``expected_rate`` ~1.1 %);
shifted by 1 sigma 1-4x that (median ~2.5x), by 2 sigma 4-18x (~9x), by 3 sigma 7-42x (~25x);
the scorer before this one stayed at ~1 % or fell (``tests/unit/monitor/test_anomaly_shift.py``).
One feature shifted by 0.5 sigma among many still barely moves it — per-feature bands and drift
detectors cover those. Categorical features are not scored.

Examples
--------
>>> import random
>>> rng = random.Random(1)
>>> sc = AnomalyScorer(warmup_events=200, window_size=50, stride=1, seed=1)
>>> flags = [sc.update({"a": rng.gauss(0, 1), "b": rng.gauss(5, 1)}).flag for _ in range(3000)]
>>> normal = [f for f in flags if f is not None]  # flags from event 300 (200 + 50 + 50 scores)
>>> len(normal), sc.phase, round(sc.expected_rate, 3), round(sum(normal) / len(normal), 3)
(2700, 'live', 0.01, 0.011)
>>> sc.update({"a": 9.0, "b": -4.0}).flag
1.0
>>> shifted = [sc.update({"a": rng.gauss(2, 1), "b": rng.gauss(5, 1)}).flag for _ in range(1000)]
>>> round(sum(shifted) / len(shifted), 2)  # a 2-sigma shift of one feature of two: 7x the rate
0.07
>>> ref = [{"a": rng.gauss(0, 1), "b": rng.gauss(5, 1)} for _ in range(2000)]
>>> AnomalyScorer(seed=1).fit(ref).update({"a": 0.1, "b": 5.0}).flag  # fitted: no warm-up
0.0
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal, Self

from river import anomaly

__all__ = ["MAX_FIT_CALIBRATION", "AnomalyScorer", "Phase"]

Phase = Literal["range", "trees", "threshold", "live"]
"""Where a scorer is: fixing the ranges, filling the trees, fixing the threshold, or scoring."""

MAX_FIT_CALIBRATION = 50_000
"""Reference rows :meth:`AnomalyScorer.fit` scores for the threshold at most (bounded time)."""


def _number(v: object) -> float | None:
    """``v`` as a finite float, else ``None`` (missing: a category, a bool, a reference's NaN)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            f = float(v)
        except OverflowError:  # an int beyond float range (not from the event contract)
            return None
        if math.isfinite(f):
            return f
    return None


class AnomalyScorer:
    """Seeded half-space-tree scorer: fixed ranges, trees and threshold after warm-up (see the module)."""

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
        calibration_events: int | None = None,
    ) -> None:
        self.features = features
        self.warmup_events = warmup_events
        self.q = q
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.stride = stride
        self.seed = seed
        self.calibration_events = calibration_events
        self._reset()

    def _reset(self) -> None:
        self.trees = anomaly.HalfSpaceTrees(
            n_trees=self.n_trees, height=self.height, window_size=self.window_size, seed=self.seed
        )
        self._phase: Phase = "range"
        self._seen = 0
        self._learned = 0
        self._lo: dict[str, float] = {}
        self._hi: dict[str, float] = {}
        self._sum: dict[str, float] = {}
        self._n: dict[str, int] = {}
        self._scale: dict[str, tuple[float, float, float]] = {}  # name -> (lo, 1/width, fill)
        self._calibration: list[float] = []  # sorted scores of step 3 (at most n_calibration)
        self._threshold: float | None = None
        self._expected: float | None = None
        self._flag: float | None = None
        self._score: float | None = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore; a snapshot from before the frozen threshold (a ``QuantileFilter`` named
        ``filter``) keeps its ranges and trees and fixes a threshold afresh (step 3)."""
        old = state.pop("filter", None)
        self.__dict__.update(state)
        if old is None:
            return
        self.calibration_events = None
        self.trees = old.anomaly_detector
        self._calibration, self._threshold, self._expected = [], None, None
        self._learned = self.window_size if not self.trees._first_window else 0
        self._phase = "range" if not self._scale else "trees" if self.trees._first_window else "threshold"
        if self._phase == "trees":  # start the trees' window afresh
            self.trees = anomaly.HalfSpaceTrees(self.n_trees, self.height, self.window_size, seed=self.seed)

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def flag(self) -> float | None:
        """1.0 if the last event was flagged, 0.0 if not, ``None`` if it was not scored."""
        return self._flag

    @property
    def score(self) -> float | None:
        return self._score

    @property
    def ready(self) -> bool:
        """The ranges are fixed (step 1 done)."""
        return bool(self._scale)

    @property
    def threshold(self) -> float | None:
        """The fixed score threshold (a score above it is flagged); ``None`` during warm-up."""
        return self._threshold

    @property
    def expected_rate(self) -> float:
        """The flag rate on the warm-up's (or reference's) held-out events, ``1 - q`` until measured."""
        return self._expected if self._expected is not None else 1.0 - self.q

    @property
    def n_calibration(self) -> int:
        """Events scored to fix the threshold (``calibration_events`` or its default)."""
        if self.calibration_events is not None:
            return self.calibration_events
        return max(self.window_size, math.ceil(10 / (1 - self.q) - 1e-9))

    def _observe(self, features: Mapping[str, object]) -> None:
        for name, v in features.items():
            if self.features is not None and name not in self.features:
                continue
            if (f := _number(v)) is not None:
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
        if self._scale:
            self._phase = "trees"

    def _vector(self, features: Mapping[str, object]) -> dict[Hashable, Any]:
        x: dict[Hashable, Any] = {}
        for name, (lo, inv, fill) in self._scale.items():
            v = _number(features.get(name))
            if v is not None:
                s = (v - lo) * inv
                x[name] = 0.0 if s < 0.0 else 1.0 if s > 1.0 else s
            else:
                x[name] = fill
        return x

    def _learn(self, x: dict[Hashable, Any]) -> None:
        self.trees.learn_one(x)  # type: ignore[no-untyped-call]
        self._learned += 1
        if self._learned >= self.window_size:  # the reference masses are in: freeze the trees
            self._phase = "threshold"

    def _score_of(self, x: dict[Hashable, Any]) -> float:
        return float(self.trees.score_one(x))  # type: ignore[no-untyped-call]

    def _quantile(self, s: list[float]) -> float:
        """The ``q``-quantile of the sorted scores ``s`` (linear interpolation, numpy's default)."""
        pos = self.q * (len(s) - 1)
        j = int(pos)
        return s[j] if j + 1 >= len(s) else s[j] + (pos - j) * (s[j + 1] - s[j])

    def _fix_threshold(self, scores: list[float]) -> None:
        """Fix the threshold at the ``q``-quantile of ``scores``; flagged are the scores above it.

        A new score exceeds the ``k``-th smallest of ``n`` exchangeable (continuous) scores with
        probability ``(n - k) / (n + 1)``; the threshold lies a fraction ``f`` of the way from the
        ``k``-th to the next, so the expected rate is ``(above + 1 - f) / (n + 1)`` with ``above``
        the scores above it (ties count as not above)."""
        s = sorted(scores)
        t = self._quantile(s)
        pos = self.q * (len(s) - 1)
        above = len(s) - bisect.bisect_right(s, t)
        self._threshold = t
        self._expected = (above + 1 - (pos - int(pos))) / (len(s) + 1)
        self._calibration = []
        self._phase = "live"

    def update(self, features: Mapping[str, object] | None) -> Self:
        """Score one event's features (``None``: no features, nothing scored)."""
        self._flag = self._score = None
        if features is None:
            return self
        self._seen += 1
        phase = self._phase
        if phase == "range":
            self._observe(features)
            if self._seen >= self.warmup_events:
                self._freeze()
            return self
        if phase == "live" and self._seen % self.stride:
            return self
        x = self._vector(features)
        if phase == "trees":
            self._learn(x)
            return self
        score = self._score_of(x)
        if phase == "threshold":
            so_far = self._calibration  # sorted; at most n_calibration scores
            if len(so_far) >= self.window_size and not self._seen % self.stride:  # provisional
                self._flag, self._score = (1.0 if score > self._quantile(so_far) else 0.0), score
            bisect.insort(so_far, score)
            if len(so_far) >= self.n_calibration:
                self._fix_threshold(so_far)
            return self
        assert self._threshold is not None
        self._flag, self._score = (1.0 if score > self._threshold else 0.0), score
        return self

    def fit(self, rows: Iterable[Mapping[str, object]]) -> Self:
        """Warm up from reference rows (the training data) instead of live events; the next event
        is scored. Ranges come from every row; in a seeded order, the first ``window_size`` rows
        fill the trees and the rest (at most :data:`MAX_FIT_CALIBRATION`) fix the threshold.
        Fewer than ``2 * window_size`` rows: the trees learn them round-robin and the threshold
        is fixed on all of them (scores of learned rows are a little low: more flags live).
        Rows without a numeric feature leave the scorer to warm up live."""
        self._reset()
        data = list(rows)
        for r in data:
            self._observe(r)
        self._freeze()
        if not self._scale:
            self._reset()
            return self
        order = list(range(len(data)))
        random.Random(self.seed).shuffle(order)
        xs = [self._vector(data[i]) for i in order]
        n = self.window_size
        held_out = len(xs) >= 2 * n
        for i in range(n):
            self._learn(xs[i % len(xs)])
        calibration = xs[n:][:MAX_FIT_CALIBRATION] if held_out else xs
        self._fix_threshold([self._score_of(x) for x in calibration])
        self._seen = self.stride - 1  # the next event is scored
        return self
