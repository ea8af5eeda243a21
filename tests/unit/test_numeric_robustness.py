"""Every statistic stays finite on any value the contract accepts (issue 9, numeric robustness).

The contract admits numbers up to ``MAX_ABS = 1e100`` in magnitude (integers up to ``10**100``);
beyond, events are dead-lettered ``out_of_range``. Inside that range every stateful object of the
monitor — feature statistics, window aggregates and summaries, thresholds, drift detectors, the
anomaly scorer, the category mix and the model monitor — must keep every number it reports
finite and never raise, whatever the stream: the extremes with alternating signs, huge integers
at the limit, subnormals, constant streams, a jump from tiny to huge.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from glasswatch.monitor.aggregates import StreamAgg, quantiles
from glasswatch.monitor.anomaly import AnomalyScorer
from glasswatch.monitor.category_mix import CategoryMix
from glasswatch.monitor.detectors import DriftDetector
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.stats import FeatureStats, ModelStats, merge_feature_summaries
from glasswatch.monitor.thresholds import DynamicThreshold, StaticThreshold
from glasswatch.monitor.windows import Located, WindowAggregator
from glasswatch.schemas.events import MAX_ABS, MAX_INT, PredictionEvent
from glasswatch.testing.simulate import simulate

N = 3_000

STREAMS: dict[str, Callable[[int], float | int]] = {
    "alternating_max": lambda i: MAX_ABS if i % 2 else -MAX_ABS,
    "constant_max": lambda i: MAX_ABS,
    "constant_min": lambda i: -MAX_ABS,
    "int_limit": lambda i: MAX_INT if i % 3 else -MAX_INT,
    "subnormal": lambda i: 5e-324 * (i % 3),
    "tiny_then_huge": lambda i: 5e-324 if i < N // 2 else MAX_ABS,
    "rare_spikes": lambda i: MAX_ABS if i % 97 == 0 else 1e-300,
    "constant_zero": lambda i: 0.0,
}
IDS = sorted(STREAMS)


def numbers(obj: Any, seen: set[int] | None = None) -> Iterator[float]:
    """Every number reported in ``obj`` (floats, numpy scalars, inside containers and models)."""
    seen = set() if seen is None else seen
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, float | int | np.floating | np.integer):
        yield float(obj)
        return
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield from (float(x) for x in obj.ravel())
    elif isinstance(obj, BaseModel):
        yield from numbers(obj.model_dump(), seen)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        yield from numbers({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from numbers(v, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            yield from numbers(v, seen)


def assert_finite(obj: Any, what: str) -> None:
    bad = [x for x in numbers(obj) if not math.isfinite(x)]
    assert not bad, f"{what}: {bad[:5]}"


def values(stream: str, n: int = N) -> list[float | int]:
    return [STREAMS[stream](i) for i in range(n)]


@pytest.mark.parametrize("stream", IDS)
def test_feature_stats(stream: str) -> None:
    xs = values(stream)
    one = FeatureStats()
    for x in xs:
        one.update(x)
    many = FeatureStats()
    for i in range(0, len(xs), 500):
        many.update_many(xs[i : i + 500])
    for fs in (one, many):
        assert_finite(fs.summary(), stream)
    assert_finite(
        merge_feature_summaries([one.summary(), many.summary(), FeatureStats().update(1.0).summary()]), stream
    )


@pytest.mark.parametrize("stream", IDS)
def test_stream_aggregate_and_quantiles(stream: str) -> None:
    aggs = [StreamAgg(key=k) for k in range(3)]
    for i, x in enumerate(values(stream)):
        aggs[i % 3].add(x)
    parts = [p for p in (a.part() for a in aggs) if p is not None]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    for p in [*parts, merged]:
        assert_finite((p.n, p.mean, p.m2, p.lo, p.hi, p.std), stream)
    assert_finite(quantiles(parts), stream)


def _records(stream: str, n: int = N) -> list[Located]:
    """Simulated prediction records whose numbers are all replaced by the stream's values."""
    out = []
    for i, rec in enumerate(simulate(n, n_features=3, rate=50.0, seed=5)):
        v = STREAMS[stream](i)
        event = rec.event
        assert isinstance(event, PredictionEvent)
        features = {k: (v if isinstance(x, float) else x) for k, x in (event.features or {}).items()}
        event = event.model_copy(update={"features": features, "prediction": v, "latency_ms": abs(v)})
        out.append(Located(event, rec.coord))
    return out


@pytest.mark.parametrize("stream", IDS)
def test_window_aggregator(stream: str) -> None:
    agg = WindowAggregator("m", size_seconds=10, hop_seconds=5, allowed_lateness_seconds=1, seed=1)
    output = agg.update_many(_records(stream))
    closed = [*getattr(output, "closed", []), *agg.flush()]
    assert closed, "windows closed"
    for window in closed:
        assert_finite(window.summaries, stream)


@pytest.mark.parametrize("stream", IDS)
def test_model_stats(stream: str) -> None:
    ms = ModelStats().update_many([r.event for r in _records(stream, 1_000)])
    assert_finite(ms.summary(), stream)


@pytest.mark.parametrize("stream", IDS)
def test_model_monitor(stream: str) -> None:
    spec = MonitorSpec(model="m", window={"size_seconds": 10, "allowed_lateness_seconds": 1}, seed=3)
    monitor = ModelMonitor(spec)
    recs = _records(stream, 12_000)  # past the warm-up of the learned bands and detectors
    for i in range(0, len(recs), 1_000):
        output = monitor.update_many(recs[i : i + 1_000])
        assert_finite(output, stream)
    assert_finite(monitor.open_alerts, stream)


def _window_values(stream: str, n: int = 400) -> list[tuple[float, int]]:
    """A signal's per-window values as the monitor would feed them (mean-like), with counts."""
    return [(float(STREAMS[stream](i)), 50 + i % 7) for i in range(n)]


@pytest.mark.parametrize("stream", IDS)
def test_thresholds(stream: str) -> None:
    static = StaticThreshold(lower=-1.0, upper=1.0, hysteresis=2)
    dynamic = DynamicThreshold(warmup=20, k=4.0, hysteresis=2, resolve_after=2)
    for x, n in _window_values(stream):
        assert_finite(static.update(x).decision, stream)
        assert_finite((dynamic.update(x, n).decision, dynamic.band), stream)


@pytest.mark.parametrize("kind", ["adwin", "page_hinkley", "kswin"])
@pytest.mark.parametrize("stream", IDS)
def test_drift_detectors(stream: str, kind: Any) -> None:
    det = DriftDetector(kind, warmup=20, resolve_after=3, seed=1)
    for x, n in _window_values(stream, 200 if kind == "kswin" else 400):
        assert_finite(det.update(x, n).decision, f"{kind} {stream}")


@pytest.mark.parametrize("stream", IDS)
def test_anomaly_scorer(stream: str) -> None:
    sc = AnomalyScorer(warmup_events=100, window_size=20, stride=1, n_trees=3, height=4, seed=1)
    for i in range(600):
        v = STREAMS[stream](i)
        sc.update({"a": v, "b": -v, "c": 1.0, "d": v * 0.5 if isinstance(v, float) else v})
        assert_finite((sc.score, sc.flag), stream)


def test_category_mix_with_extreme_frequencies_and_counts() -> None:
    mix = CategoryMix(alpha=0.05)
    for i in range(300):
        tiny = 5e-324 * (i % 2)
        mix.update({"a": 1.0 - tiny, "b": tiny, f"n{i % 70}": 0.0})
        for n in (1, 10**9, MAX_INT):
            assert_finite(mix.distance({"a": 0.5, "b": 0.5, "zz": 5e-324}, n), f"n={n}")
    assert_finite(mix.freqs, "freqs")
