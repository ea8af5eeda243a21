"""Bounded, mergeable aggregates of one stream's values in one window pane.

A :class:`StreamAgg` keeps, whatever the number of values it saw: the numeric moments (count,
mean, ``M2``; Chan's parallel merge), min and max, a deterministic reservoir sample of at most
:data:`~glasswatch.monitor.reservoir.CAPACITY` values for the quantiles, and category counts
bounded to :data:`MAX_CATEGORIES` names plus ``__other__`` (as
:class:`glasswatch.monitor.stats.FeatureStats` does). Numbers wait in a
buffer of at most :data:`BLOCK` values and are folded in blocks fixed by their position in the
stream (values ``0..127``, ``128..255``, ...), never by batch boundaries, so the floats come out
bit-identical however the events were batched.

The sample is :mod:`glasswatch.monitor.reservoir`'s (Algorithm L, seeded per pane and stream by
:func:`~glasswatch.monitor.reservoir.stream_key`): every value is equally likely to be kept, and
the sample depends only on the values and their order. A :class:`Pane` holds one
:class:`StreamAgg` per stream of one ``hop``-long slice of event time. A prediction that is a
class label (a string) counts as a category of the ``prediction`` stream; an event's class
``probabilities`` add two numbers, its ``confidence`` (max probability) and ``entropy`` (nats),
each a stream of its own (:func:`class_summary`: only numbers are kept, never class names but
the label's, which the category bound covers).

**Error bound.** Quantiles are exact (numpy's linear interpolation) while every pane of the window
kept all its values (``n <= CAPACITY``). Otherwise each pane's sample is a uniform sample of its
values, merged with weights ``n_pane / kept``; the rank of an estimated ``q``-quantile then has a
standard error of at most ``sqrt(q (1 - q) / CAPACITY)`` (smaller when several panes are full):
0.031 at the median and 0.014 at p05 / p95, which is 0.08 and 0.13 standard deviations of a
normal. Four standard errors bound it in practice (``tests/unit/monitor/test_windows.py``).
Mean, std, min, max, counts and category counts (up to ``__other__``) are exact.

Examples
--------
>>> import random
>>> rng = random.Random(1)
>>> agg = StreamAgg(stream_key(0, "feature:x", 0))
>>> for _ in range(10_000):
...     _ = agg.add(rng.gauss(0.0, 1.0))
>>> _ = agg.add("a").add(None)
>>> p = agg.part()
>>> p.n, len(p.sample), round(p.mean, 2), agg.categories
(10000, 256, 0.0, {'a': 1})
>>> [round(v, 1) for v in quantiles([p])]  # exact: -1.6, 0.0, 1.6 (ranks off by .013 .036 .008)
[-1.8, 0.1, 1.7]
>>> quantiles([StreamAgg(1).add(3.0).add(1.0).add(2.0).part()])  # exact when n <= CAPACITY
[1.1, 2.0, 2.9]
>>> pane = Pane(start=0, seed=0)
>>> for t in (0, 500, 250, 1500):
...     pane.add_time(t)
>>> pane.events, pane.t_lo, pane.t_hi, pane.gaps.part().mean  # in-order gaps 0.5 s and 1.0 s
(4, 0, 1500, 0.75)
>>> label, conf, ent = class_summary({"b": 0.5, "a": 0.5, "c": 0.0})  # a tie: the smallest name
>>> label, conf, round(ent, 4)  # entropy in nats (log 2)
('a', 0.5, 0.6931)
>>> pane.add_prediction(None, None, "1", {"no": 0.2, "yes": 0.8})  # no label: the argmax class
>>> pane.pred.categories, pane.conf.part().mean, round(pane.ent.part().mean, 3)
({'yes': 1}, 0.8, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from glasswatch.monitor.reservoir import Skip, extend_sample, stream_key

__all__ = [
    "BLOCK",
    "MAX_CATEGORIES",
    "OTHER",
    "QUANTILES",
    "Pane",
    "Part",
    "StreamAgg",
    "class_summary",
    "quantiles",
]

BLOCK = 128
"""Numbers buffered before they are folded into the moments and the sample."""
MAX_CATEGORIES = 64
"""Categories counted by name per stream (per pane here, per feature in
:class:`~glasswatch.monitor.stats.FeatureStats`); later newcomers count under :data:`OTHER`."""
OTHER = "__other__"
QUANTILES = (0.05, 0.5, 0.95)
"""The quantiles every summary reports (p05, p50, p95)."""

_EMPTY = np.empty(0)


class Part(NamedTuple):
    """The numbers of one stream in one pane: moments, range and a sample standing for ``n``."""

    n: int
    mean: float
    m2: float
    lo: float
    hi: float
    sample: np.ndarray

    @classmethod
    def of(cls, values: list[float], sample: np.ndarray | None = None) -> Part:
        """Moments of ``values``; the sample is ``values`` unless given.

        numpy sums contiguous float64 pairwise in an order fixed by the length alone, so equal
        blocks give bit-identical moments.
        """
        a = np.asarray(values, dtype=np.float64)
        mean = float(a.sum()) / len(a)
        d = a - mean
        m2 = float((d * d).sum())
        return cls(len(a), mean, m2, float(a.min()), float(a.max()), a if sample is None else sample)

    def merge(self, o: Part) -> Part:
        """Chan et al.'s pairwise merge of the moments (the sample is not merged)."""
        n = self.n + o.n
        d = o.mean - self.mean
        mean = self.mean + d * o.n / n
        m2 = self.m2 + o.m2 + d * d * self.n * o.n / n
        return Part(n, mean, m2, min(self.lo, o.lo), max(self.hi, o.hi), self.sample)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0


class StreamAgg:
    """One stream's values in one pane (numbers, categories, ``None``); constant size."""

    __slots__ = ("buf", "categories", "key", "part_", "skip")

    def __init__(self, key: int) -> None:
        self.key = key
        self.buf: list[float] = []
        self.part_: Part | None = None  # the folded blocks
        self.skip: Skip | None = None
        self.categories: dict[str, int] = {}

    def add(self, x: object, categorical: bool = False) -> StreamAgg:
        """Add a number, a category (a string, or any value if ``categorical``) or ``None`` (ignored)."""
        if type(x) is float and not categorical:  # the common case first
            buf = self.buf
            buf.append(x)
            if len(buf) >= BLOCK:
                self.fold()
        elif x is None:
            pass
        elif categorical or isinstance(x, str):
            self.add_category(str(x))
        else:
            self.add(float(x))  # type: ignore[arg-type]
        return self

    def add_category(self, c: str) -> None:
        cats = self.categories
        if c in cats:
            cats[c] += 1
        elif len(cats) < MAX_CATEGORIES:
            cats[c] = 1
        else:
            cats[OTHER] = cats.get(OTHER, 0) + 1

    def fold(self) -> None:
        """Fold the buffered numbers into the moments and the sample."""
        self.part_, self.skip = self._folded()
        self.buf = []

    def _folded(self) -> tuple[Part | None, Skip | None]:
        done = self.part_
        if not self.buf:
            return done, self.skip
        buf = self.buf
        sample, skip = extend_sample(
            _EMPTY if done is None else done.sample, buf, self.n, self.key, self.skip
        )
        block = Part.of(buf, sample)
        return (block if done is None else done.merge(block)._replace(sample=sample)), skip

    @property
    def n(self) -> int:
        """Numbers folded so far (not counting the buffer)."""
        return self.part_.n if self.part_ is not None else 0

    @property
    def present(self) -> int:
        """Values that were not ``None``: numbers and categories."""
        done = self.part_.n if self.part_ is not None else 0
        return done + len(self.buf) + sum(self.categories.values())

    def part(self) -> Part | None:
        """The numbers so far (``None`` if none), without changing the aggregate."""
        return self._folded()[0]


def class_summary(probabilities: Mapping[str, float]) -> tuple[str, float, float | None]:
    """(argmax class, max probability, Shannon entropy in nats of the normalised probabilities).

    Ties go to the smallest class name; the entropy is ``None`` when every probability is 0. Sums
    use :func:`math.fsum`, so the numbers do not depend on the classes' order. O(classes): the
    event contract caps them at 256. Raises ``ValueError`` for no classes.
    """
    if len(probabilities) == 2:  # binary classifiers: the same floats without fsum's generator
        return _two_classes(*probabilities.items())
    if not probabilities:
        raise ValueError("no class probabilities")
    label, top = "", -1.0
    for c, p in probabilities.items():
        if p > top or (p == top and c < label):
            label, top = c, p
    top = float(top)
    total = math.fsum(probabilities.values())
    if not total > 0.0:
        return label, top, None
    # H = -sum (p/T) log(p/T) = log T - sum p log p / T
    plogp = math.fsum(p * math.log(p) for p in probabilities.values() if p > 0.0)
    return label, top, max(0.0, math.log(total) - plogp / total)


def _two_classes(a: tuple[str, float], b: tuple[str, float]) -> tuple[str, float, float | None]:
    """:func:`class_summary` of two classes, bit for bit: the float sum of two floats is exactly
    rounded, as :func:`math.fsum` of two is."""
    (label, top), (c, p) = a, b
    if p > top or (p == top and c < label):
        label, top = c, p
    pa, pb = a[1], b[1]
    total = float(pa) + float(pb)
    if not total > 0.0:
        return label, float(top), None
    if pa > 0.0 and pb > 0.0:
        plogp = pa * math.log(pa) + pb * math.log(pb)
    else:
        x = pa if pa > 0.0 else pb
        plogp = float(x * math.log(x))
    return label, float(top), max(0.0, math.log(total) - plogp / total)


def quantiles(parts: Sequence[Part], qs: Sequence[float] = QUANTILES) -> list[float]:
    """Quantiles of the union of ``parts``: exact if every part kept all its values.

    Samples of equal weight (``n / kept``) are pooled and read with numpy's linear interpolation;
    otherwise each kept value weighs ``n / kept`` and the quantile interpolates the weighted
    midpoint CDF.
    """
    weights = [p.n / len(p.sample) for p in parts]
    values = np.concatenate([p.sample for p in parts])
    if all(w == weights[0] for w in weights):
        return [float(v) for v in np.quantile(values, qs)]
    w = np.concatenate([np.full(len(p.sample), wt) for p, wt in zip(parts, weights, strict=True)])
    order = np.argsort(values, kind="stable")
    values, w = values[order], w[order]
    cdf = (np.cumsum(w) - w / 2) / w.sum()
    return [float(v) for v in np.interp(qs, cdf, values)]


@dataclass
class Pane:
    """What one pane (a ``hop``-long slice of event time) accepted, as aggregates: no events.

    Per stream a :class:`StreamAgg`; for the ``events`` stream the first and last event time and
    the gaps between in-order arrivals; offsets are min/max per (topic, partition). Its size does
    not grow with its number of events (about 3 KB per numeric stream).
    """

    start: int
    seed: int
    events: int = 0
    rows: int = 0  # events that carried a feature dict
    preds: int = 0
    t_lo: int = 0
    t_hi: int = 0
    gaps: StreamAgg | None = None
    feats: dict[str, StreamAgg] = field(default_factory=dict)
    pred: StreamAgg | None = None
    lat: StreamAgg | None = None
    conf: StreamAgg | None = None  # max class probability per event (``confidence`` stream)
    ent: StreamAgg | None = None  # entropy of the normalised probabilities (``entropy`` stream)
    extras: dict[str, StreamAgg] = field(default_factory=dict)
    offsets: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    version: str | None = None
    late_accepted: int = 0

    def _agg(self, stream: str) -> StreamAgg:
        return StreamAgg(stream_key(self.seed, stream, self.start))

    def add_time(self, t: int) -> None:
        """Count an event at ``t`` (ms); an in-order one adds its gap to the last (seconds)."""
        if not self.events:
            self.t_lo = self.t_hi = t
        elif t >= self.t_hi:
            if self.gaps is None:
                self.gaps = self._agg("events")
            self.gaps.add((t - self.t_hi) / 1000.0)
            self.t_hi = t
        elif t < self.t_lo:
            self.t_lo = t
        self.events += 1

    def add_features(
        self, features: Mapping[str, object], wanted: frozenset[str] | None, categorical: frozenset[str]
    ) -> None:
        """Add one event's features (only ``wanted`` ones unless ``None``)."""
        self.rows += 1
        aggs = self.feats
        for name, v in features.items():
            agg = aggs.get(name)
            if agg is None:
                if wanted is not None and name not in wanted:
                    continue
                agg = aggs[name] = self._agg("feature:" + name)
            if type(v) is float and not (categorical and name in categorical):  # StreamAgg.add, inlined
                buf = agg.buf
                buf.append(v)
                if len(buf) >= BLOCK:
                    agg.fold()
            elif type(v) is str:  # a category whether declared or not (StreamAgg.add)
                agg.add_category(v)
            elif v is not None:
                agg.add(v, name in categorical)

    def add_prediction(
        self,
        prediction: object,
        latency: float | None,
        version: str | None,
        probabilities: Mapping[str, float] | None = None,
    ) -> None:
        """Add one prediction: a number or a class label (a string, counted as a category);
        without one, the argmax class of ``probabilities`` is the label. ``probabilities`` also
        add the event's confidence and entropy (:func:`class_summary`)."""
        self.preds += 1
        pred = self.pred
        if pred is None:
            pred = self.pred = self._agg("prediction")
        summary = class_summary(probabilities) if probabilities else None
        if prediction is None and summary is not None:
            prediction = summary[0]
        pred.add(prediction)
        if latency is not None:
            if self.lat is None:
                self.lat = self._agg("latency")
            self.lat.add(latency)
        if summary is not None:
            if self.conf is None:
                self.conf = self._agg("confidence")
            self.conf.add(summary[1])
            if summary[2] is not None:
                if self.ent is None:
                    self.ent = self._agg("entropy")
                self.ent.add(summary[2])
        self.version = version

    def add_extra(self, extra: Mapping[str, float | None]) -> None:
        for name, v in extra.items():
            agg = self.extras.get(name)
            if agg is None:
                agg = self.extras[name] = self._agg(name)
            agg.add(v)

    def add_offset(self, topic: str, partition: int, offset: int) -> None:
        o = self.offsets.get((topic, partition))
        if o is None:
            self.offsets[(topic, partition)] = [offset, offset]
        elif offset < o[0]:
            o[0] = offset
        elif offset > o[1]:
            o[1] = offset
