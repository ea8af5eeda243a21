"""Baselines from a model version's reference data: bands armed from the first window.

A learned band knows nothing until it has seen ``warmup`` windows, so a change in a model's first
windows becomes its "normal". When the model version has reference data (the rows it was trained
or validated on, registered in MLflow next to the version, or a file named in the monitor spec),
:func:`bootstrap_baseline` draws ``n_windows`` bootstrap windows of ``window_events`` rows from it
(seeded) and computes, for every signal the spec watches on features and the prediction, the same
statistic the live window reports (mean, std, quantiles, missing rate, category-mix distance).
The mean and standard deviation of those window values are the signal's :class:`SignalBaseline`;
:meth:`~glasswatch.monitor.model_monitor.ModelMonitor.rebaseline` seeds the learned bands and the
drift detectors from them (and their first ``HISTORY`` window values, so River's detectors start
warm). The live band scales with ``sqrt(n_ref / n)`` for windows of ``n`` events, as the learned
band does.

What a reference cannot give stays learned: latency, signals of columns the reference lacks, and
the event rate and gap (a reference has no arrival times) unless an ``expected_rate`` is given
(events/s; arrivals are then taken as Poisson: a window of ``T`` seconds counts ``rate·T ±
sqrt(rate·T)`` events). The model's monitor keeps its event-rate band across versions, so this
blind spot only concerns a model's first windows. Alerts say which baseline they
were judged against (``evidence["baseline"]``: ``learned``, ``reference`` or ``accepted``).

Live quantiles come from per-pane reservoir samples of at most
:data:`~glasswatch.monitor.reservoir.CAPACITY` values, so the bootstrap computes quantile
statistics on that many rows too (their noise is the live estimate's noise).

:data:`BaselineLookup` is the seam to wherever references live: ``(model, version) -> Baseline |
None``. It must be deterministic (the same reference gives the same baseline: the bootstrap is
seeded and keyed by the reference's digest) so a replay rebuilds the same bands.

Examples
--------
>>> import random
>>> from glasswatch.monitor.specs import MonitorSpec
>>> rng = random.Random(0)
>>> cols = {"age": [rng.gauss(40, 10) for _ in range(5000)],
...         "plan": [rng.choice("ab") for _ in range(5000)], "prediction": [0.3] * 5000}
>>> b = bootstrap_baseline(cols, MonitorSpec(model="m"), version="3", digest="d", window_events=1000)
>>> age = b.signals["feature:age:mean"]
>>> round(age.mean), round(age.std, 2), age.n_ref  # the std of a 1000-row mean: 10 / sqrt(1000)
(40, 0.32, 1000.0)
>>> sorted(s for s in b.signals if s.startswith("feature:plan"))
['feature:plan:category_mix', 'feature:plan:missing_rate']
>>> b.mixes["feature:plan:category_mix"]  # the reference mix the distance is measured from
{'a': 0.5058, 'b': 0.4942}
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from glasswatch.monitor.aggregates import QUANTILES
from glasswatch.monitor.category_mix import CategoryMix
from glasswatch.monitor.reservoir import CAPACITY
from glasswatch.monitor.specs import MonitorSpec

__all__ = [
    "HISTORY",
    "PREDICTION",
    "Baseline",
    "BaselineLookup",
    "SignalBaseline",
    "bootstrap_baseline",
    "no_baselines",
]

PREDICTION = "prediction"
"""The reference column holding the model's predictions (when it has them)."""
HISTORY = 40
"""Bootstrap window values kept per signal for the drift detectors to learn first."""
_NUMERIC_STATS = ("mean", "std", "min", "max", "p05", "p50", "p95")
_QUANTILE_OF = dict(zip(("p05", "p50", "p95"), QUANTILES, strict=True))


@dataclass(frozen=True)
class SignalBaseline:
    """A signal's window values under the reference: mean, std, at ``n_ref`` events per window."""

    mean: float
    std: float
    n_ref: float
    history: tuple[float, ...] = ()


@dataclass(frozen=True)
class Baseline:
    """The baselines of one model version, from the reference with digest ``digest``."""

    model: str
    version: str
    digest: str
    window_events: int
    signals: Mapping[str, SignalBaseline]
    mixes: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Category-mix signal -> the reference's category frequencies."""
    rows: tuple[Mapping[str, object], ...] = field(default=(), repr=False)
    """A seeded sample of reference rows (features only) for the anomaly scorer to learn."""


BaselineLookup = Callable[[str, str], "Baseline | None"]
"""``(model, version) -> Baseline | None`` (``None``: the version has no reference)."""


def no_baselines(model: str, version: str) -> Baseline | None:
    """The lookup when no reference is configured: every baseline is learned."""
    return None


def _numeric(values: Sequence[object]) -> np.ndarray | None:
    """The column as floats (NaN for missing), or ``None`` if it holds anything but numbers."""
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out[i] = np.nan
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
            out[i] = float(v)
        else:
            return None
    return out


def _missing(values: Sequence[object]) -> np.ndarray:
    return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values], dtype=bool)


def _summary(x: np.ndarray) -> SignalBaseline:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return SignalBaseline(0.0, 0.0, 0.0)
    return SignalBaseline(float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0, 0.0)


def _numeric_stats(
    x: np.ndarray, idx: np.ndarray, qidx: np.ndarray, stats: Sequence[str]
) -> dict[str, np.ndarray]:
    w = x[idx]
    out: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing window has no statistic
        for stat in stats:
            if stat == "mean":
                out[stat] = np.nanmean(w, axis=1)
            elif stat == "std":
                out[stat] = np.nanstd(w, axis=1, ddof=1)
            elif stat == "min":
                out[stat] = np.nanmin(w, axis=1)
            elif stat == "max":
                out[stat] = np.nanmax(w, axis=1)
            elif stat in _QUANTILE_OF:
                out[stat] = np.nanquantile(x[qidx], _QUANTILE_OF[stat], axis=1)
    return out


def _mix_distances(values: Sequence[object], idx: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    labels = np.array(["" if v is None else str(v) for v in values], dtype=object)
    present = np.array([v is not None for v in values], dtype=bool)
    names, counts = np.unique(labels[present], return_counts=True)
    total = counts.sum()
    pairs = zip(names, counts, strict=True)
    freqs = {str(k): round(float(c) / float(total), 6) for k, c in pairs} if total else {}
    mix = CategoryMix().update(freqs)
    dist = np.empty(len(idx))
    for i, row in enumerate(idx):
        w = labels[row][present[row]]
        ks, cs = np.unique(w, return_counts=True)
        n = int(cs.sum())
        d = mix.distance({str(k): float(c) / n for k, c in zip(ks, cs, strict=True)}, n) if n else None
        dist[i] = np.nan if d is None else d
    return freqs, dist


def _rate_baselines(spec: MonitorSpec, rate: float, rng: np.random.Generator) -> dict[str, SignalBaseline]:
    """Poisson arrivals at ``rate``: a window's rate and mean gap, as mean, std and history."""
    seconds = spec.window.size_seconds
    counts = np.maximum(rng.poisson(rate * seconds, size=HISTORY), 1)
    rate_std = math.sqrt(rate * seconds) / seconds
    gap = 1.0 / rate
    return {
        "events:rate": SignalBaseline(rate, rate_std, 0.0, tuple(float(c) / seconds for c in counts)),
        "events:gap": SignalBaseline(
            gap, gap / math.sqrt(rate * seconds), 0.0, tuple(seconds / float(c) for c in counts)
        ),
    }


def bootstrap_baseline(
    columns: Mapping[str, Sequence[object]],
    spec: MonitorSpec,
    *,
    version: str,
    digest: str,
    window_events: int = 1000,
    n_windows: int = 200,
    seed: int = 0,
    max_rows: int = 2000,
    expected_rate: float | None = None,
) -> Baseline:
    """The baseline of every feature and prediction signal ``spec`` watches, from reference
    ``columns`` (name -> values; ``None``/NaN is missing; an optional :data:`PREDICTION` column).

    Bootstrap windows of ``window_events`` rows (``n_windows`` of them, seeded by ``seed`` and the
    reference ``digest``) give each signal's window-value mean and std; ``expected_rate`` (events
    per second) adds the ``events:rate`` and ``events:gap`` signals at the spec's window size.
    Raises ``ValueError`` for an empty reference, columns of unequal length or a rate <= 0."""
    if expected_rate is not None and not expected_rate > 0:
        raise ValueError(f"expected_rate must be > 0, got {expected_rate}")
    lengths = {len(v) for v in columns.values()}
    if not columns or lengths == {0}:
        raise ValueError("the reference has no rows")
    if len(lengths) != 1:
        raise ValueError(f"reference columns differ in length: {sorted(lengths)}")
    n_rows = lengths.pop()
    key = int.from_bytes(digest.encode()[:8].ljust(8, b"\0"), "big")
    rng = np.random.default_rng([seed, key])
    idx = rng.integers(0, n_rows, size=(n_windows, window_events))
    qidx = idx[:, : min(window_events, CAPACITY)]
    signals: dict[str, SignalBaseline] = {}
    mixes: dict[str, dict[str, float]] = {}
    for name in sorted(columns):
        values = columns[name]
        if name == PREDICTION:
            if not spec.watch_prediction:
                continue
            stream, stats = "prediction", spec.prediction_stats
        else:
            if not spec.watches(name):
                continue
            stream, stats = f"feature:{name}", spec.feature_stats
        x = None if name in spec.categorical else _numeric(values)
        per_stat: dict[str, np.ndarray] = {}
        if "missing_rate" in stats:
            per_stat["missing_rate"] = _missing(values)[idx].mean(axis=1)
        if x is not None:
            per_stat.update(_numeric_stats(x, idx, qidx, [s for s in stats if s in _NUMERIC_STATS]))
        elif "category_mix" in stats:
            freqs, per_stat["category_mix"] = _mix_distances(values, idx)
            mixes[f"{stream}:category_mix"] = freqs
        for stat, vals in per_stat.items():
            base = _summary(vals)
            history = tuple(float(v) for v in vals[:HISTORY] if math.isfinite(v))
            signals[f"{stream}:{stat}"] = SignalBaseline(base.mean, base.std, float(window_events), history)
    if expected_rate is not None:
        signals.update(_rate_baselines(spec, expected_rate, rng))
    rows_idx = rng.choice(n_rows, size=min(max_rows, n_rows), replace=False)
    features = [n for n in sorted(columns) if n != PREDICTION and spec.watches(n)]
    rows = tuple({f: columns[f][int(i)] for f in features} for i in rows_idx)
    return Baseline(spec.model, str(version), digest, window_events, signals, mixes, rows)
