"""Running per-(model, feature) statistics, restart-safe by construction.

:class:`FeatureStats` keeps count, mean, variance (River's ``Var``), min/max, missing rate,
quantiles (a :class:`~glasswatch.monitor.tdigest.TDigest`: rank error below ~0.6 % at the median
by construction, ≤ 0.05 % measured; see that module) and, for categorical values, bounded
category frequencies. Count, mean, variance, min, max, missing and categories are exact. The
quantiles were River's P² estimators (three per feature, ~1.4 µs per value each: most of the
statistics' time) until issue 14; a state pickled then still loads (``FeatureStats.__setstate__``).
:class:`ModelStats` holds one per feature plus one for the prediction. The worker keeps them per
source topic-partition, next to the last applied Kafka offset in one value, so a replay after a
crash skips what was already applied (exactly-once effect); see :mod:`glasswatch.monitor.partition`.

Examples
--------
>>> fs = FeatureStats()
>>> for v in [1.0, 2.0, None, 3.0, 4.0]:
...     _ = fs.update(v)
>>> fs.count, fs.missing, round(fs.mean, 2), fs.min, fs.max, round(fs.missing_rate, 2)
(5, 1, 2.5, 1.0, 4.0, 0.2)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from river import stats as rstats

from glasswatch.monitor.aggregates import MAX_CATEGORIES, OTHER, QUANTILES
from glasswatch.monitor.tdigest import TDigest
from glasswatch.schemas.events import FeatureEvent, PredictionEvent, TypedEvent

__all__ = [
    "PREDICTION",
    "FeatureStats",
    "ModelStats",
    "merge_feature_summaries",
    "merge_states",
]

PREDICTION = "__prediction__"


def _key(q: float) -> str:
    return f"p{round(q * 100):02d}"


class FeatureStats:
    """Statistics of one feature's stream of values (numbers, categories or missing).

    A state pickled before the t-digest (with ``_q``, River P² quantiles) loads with its P²
    estimates kept as ``_legacy_q`` over ``_legacy_n`` values; the quantiles reported are then
    the count-weighted mean of those and the digest's over the values since (the rule
    :func:`merge_feature_summaries` applies across partitions).
    """

    def __init__(self, quantiles: tuple[float, ...] = QUANTILES, max_categories: int = MAX_CATEGORIES):
        self.quantiles = quantiles
        self.max_categories = max_categories
        self.count = 0
        self.missing = 0
        self._var = rstats.Var()
        self._min = math.inf
        self._max = -math.inf
        self._digest = TDigest()
        self._legacy_q: dict[str, float | None] = {}
        self._legacy_n = 0
        self.categories: Counter[str] = Counter()

    def __setstate__(self, state: dict[str, Any]) -> None:
        q = state.pop("_q", None)
        if q is not None:  # pickled by the P² code: keep its estimates, count them as old values
            n = int(state["_var"].mean.n)
            state["_legacy_q"] = {_key(e.q): (e.get() if n else None) for e in q}
            state["_legacy_n"] = n
            state["_digest"] = TDigest()
        self.__dict__.update(state)

    def update(self, x: Any) -> FeatureStats:
        self.count += 1
        if x is None:
            self.missing += 1
        elif isinstance(x, str):
            self._add_category(x)
        else:
            v = float(x)
            self._var.update(v)
            if v < self._min:
                self._min = v
            if v > self._max:
                self._max = v
            self._digest.update(v)
        return self

    def update_many(self, values: list[Any]) -> FeatureStats:
        """Same result as :meth:`update` per value (moments up to float rounding), vectorised.

        >>> a, b = FeatureStats(), FeatureStats().update_many([1.0, None, "x", 3.0, True])
        >>> for v in [1.0, None, "x", 3.0, True]:
        ...     _ = a.update(v)
        >>> sa, sb = a.summary(), b.summary()
        >>> abs(sa.pop("std") - sb.pop("std")) < 1e-12, sa == sb
        (True, True)
        """
        self.count += len(values)
        kinds = set(map(type, values))
        nums: list[float]
        if kinds == {float}:  # the common column: no per-value branching
            nums = values
        else:
            nums = []
            for x in values:
                if x is None:
                    self.missing += 1
                elif isinstance(x, str):
                    self._add_category(x)
                else:
                    nums.append(float(x))
        if nums:
            arr = np.asarray(nums, dtype=np.float64)
            self._var.update_many(arr)
            lo, hi = float(arr.min()), float(arr.max())
            if lo < self._min:
                self._min = lo
            if hi > self._max:
                self._max = hi
            self._digest.update_many(nums)
        return self

    def _add_category(self, x: str) -> None:
        cats = self.categories
        if x in cats or len(cats) < self.max_categories:
            cats[x] += 1
        else:
            cats[OTHER] += 1

    @property
    def numeric_count(self) -> int:
        return int(self._var.mean.n)

    @property
    def mean(self) -> float | None:
        return self._var.mean.get() if self.numeric_count else None

    @property
    def variance(self) -> float | None:
        return self._var.get() if self.numeric_count > 1 else None

    @property
    def min(self) -> float | None:
        return self._min if self.numeric_count else None

    @property
    def max(self) -> float | None:
        return self._max if self.numeric_count else None

    @property
    def missing_rate(self) -> float:
        return self.missing / self.count if self.count else 0.0

    def quantile_values(self) -> dict[str, float | None]:
        """``{"p05": ..., "p50": ..., "p95": ...}`` (``None`` before the first number)."""
        keys = [_key(q) for q in self.quantiles]
        new = self._digest.n
        if not new:
            return {k: self._legacy_q.get(k) for k in keys} if self._legacy_n else dict.fromkeys(keys)
        est = dict(zip(keys, self._digest.quantiles(self.quantiles), strict=True))
        old = self._legacy_n
        if old:
            for k in keys:
                prev = self._legacy_q.get(k)
                if prev is not None:
                    est[k] = (old * prev + new * est[k]) / (old + new)
        return dict(est)

    def summary(self) -> dict[str, Any]:
        var = self.variance
        return {
            "count": self.count,
            "missing": self.missing,
            "numeric": self.numeric_count,
            "missing_rate": self.missing_rate,
            "mean": self.mean,
            "std": math.sqrt(var) if var is not None and var >= 0 else None,
            "min": self.min,
            "max": self.max,
            **self.quantile_values(),
            "categories": dict(self.categories.most_common(10)),
        }


@dataclass
class ModelStats:
    """All feature statistics of one model, plus event counts by type."""

    features: dict[str, FeatureStats] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)

    def update(self, event: TypedEvent) -> ModelStats:
        self.events[event.type] += 1
        features: Mapping[str, Any] | None = None
        if isinstance(event, PredictionEvent):
            self.versions[event.model_version] += 1
            features = event.features
            self._feature(PREDICTION).update(event.prediction)
        elif isinstance(event, FeatureEvent):
            features = event.features
        if features:
            for name, value in features.items():
                self._feature(name).update(value)
        return self

    def update_many(self, events: Iterable[TypedEvent]) -> ModelStats:
        """Vectorised :meth:`update` over many events (per-feature columns, then one call each)."""
        cols: dict[str, list[Any]] = {}
        types: list[str] = []  # counted at the end, in one C call each (same counts, same order)
        versions: list[str] = []
        for event in events:
            types.append(event.type)
            features: Mapping[str, Any] | None = None
            if isinstance(event, PredictionEvent):
                versions.append(event.model_version)
                features = event.features
                col = cols.get(PREDICTION)
                if col is None:
                    col = cols[PREDICTION] = []
                col.append(event.prediction)
            elif isinstance(event, FeatureEvent):
                features = event.features
            if features:
                for name, value in features.items():
                    col = cols.get(name)
                    if col is None:
                        col = cols[name] = []
                    col.append(value)
        self.events.update(types)
        self.versions.update(versions)
        for name, values in cols.items():
            self._feature(name).update_many(values)
        return self

    def _feature(self, name: str) -> FeatureStats:
        fs = self.features.get(name)
        if fs is None:
            fs = self.features[name] = FeatureStats()
        return fs

    def summary(self) -> dict[str, Any]:
        return {
            "events": dict(self.events),
            "versions": dict(self.versions),
            "features": {k: v.summary() for k, v in sorted(self.features.items())},
        }


def merge_feature_summaries(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine one feature's summaries from several partitions.

    Count, missing, mean, std (pooled), min, max and categories are exact; quantiles are the
    count-weighted mean of the partitions' quantiles (exact when one partition holds the model,
    which is the case when producers key by model as :class:`glasswatch.client.Publisher` does).

    >>> a = FeatureStats().update(1.0).update(3.0).summary()
    >>> b = FeatureStats().update(5.0).update(7.0).summary()
    >>> m = merge_feature_summaries([a, b])
    >>> m["count"], m["mean"], m["min"], m["max"], round(m["std"], 3)
    (4, 4.0, 1.0, 7.0, 2.582)
    """
    parts = [p for p in parts if p["count"]]
    if not parts:
        return FeatureStats().summary()
    if len(parts) == 1:
        return dict(parts[0])
    count = sum(p["count"] for p in parts)
    missing = sum(p["missing"] for p in parts)
    num = [(p["numeric"], p) for p in parts if p["numeric"] > 0 and p["mean"] is not None]
    n_total = sum(n for n, _ in num)
    out: dict[str, Any] = {
        "count": count,
        "missing": missing,
        "numeric": n_total,
        "missing_rate": missing / count,
    }
    if n_total:
        mean = sum(n * p["mean"] for n, p in num) / n_total
        ss = sum((n - 1) * (p["std"] or 0.0) ** 2 + n * (p["mean"] - mean) ** 2 for n, p in num)
        out["mean"] = mean
        out["std"] = math.sqrt(ss / (n_total - 1)) if n_total > 1 else None
        out["min"] = min(p["min"] for _, p in num)
        out["max"] = max(p["max"] for _, p in num)
        for key in [k for k in parts[0] if k.startswith("p") and k[1:].isdigit()]:
            vals = [(n, p[key]) for n, p in num if p.get(key) is not None]
            out[key] = sum(n * v for n, v in vals) / sum(n for n, _ in vals) if vals else None
    else:
        out.update({"mean": None, "std": None, "min": None, "max": None})
    cats: Counter[str] = Counter()
    for p in parts:
        cats.update(p["categories"])
    out["categories"] = dict(cats.most_common(10))
    return out


class _HasStats(Protocol):
    models: dict[str, ModelStats]
    rejects: Counter[str]
    accepted: int


def merge_states(states: Iterable[_HasStats]) -> dict[str, Any]:
    """One view over all partitions: totals, rejects by reason and per-model feature stats."""
    rejects: Counter[str] = Counter()
    accepted = 0
    per_model: dict[str, list[ModelStats]] = {}
    for st in states:
        rejects.update(st.rejects)
        accepted += st.accepted
        for name, ms in st.models.items():
            per_model.setdefault(name, []).append(ms)
    models: dict[str, Any] = {}
    for name, stats_list in sorted(per_model.items()):
        events: Counter[str] = Counter()
        versions: Counter[str] = Counter()
        feats: dict[str, list[dict[str, Any]]] = {}
        for ms in stats_list:
            events.update(ms.events)
            versions.update(ms.versions)
            for fname, fs in ms.features.items():
                feats.setdefault(fname, []).append(fs.summary())
        models[name] = {
            "events": dict(events),
            "versions": dict(versions),
            "features": {f: merge_feature_summaries(v) for f, v in sorted(feats.items())},
        }
    rejected = sum(rejects.values())
    return {"accepted": accepted, "rejected": rejected, "rejects": dict(rejects), "models": models}
