from __future__ import annotations

import math
import pickle
import random
from datetime import UTC, datetime

import numpy as np
import pytest

from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.stats import FeatureStats, merge_feature_summaries, merge_states
from glasswatch.schemas import PredictionEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(i: int, x: float | None, cat: str = "a") -> PredictionEvent:
    return PredictionEvent(
        model="m",
        model_version="1",
        prediction_id=f"p{i}",
        event_time=T0,
        features={"x": x, "c": cat},
        prediction=0.5,
    )


def test_feature_stats_match_numpy() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(10, 2, size=5000)
    fs = FeatureStats()
    for v in values:
        fs.update(float(v))
    s = fs.summary()
    assert s["count"] == 5000
    assert math.isclose(s["mean"], values.mean(), rel_tol=1e-9)
    assert math.isclose(s["std"], values.std(ddof=1), rel_tol=1e-9)
    assert s["min"] == values.min() and s["max"] == values.max()
    assert abs(s["p50"] - np.median(values)) < 0.1
    assert abs(s["p95"] - np.quantile(values, 0.95)) < 0.2


def test_categories_are_bounded() -> None:
    fs = FeatureStats(max_categories=3)
    for c in "abcdeab":
        fs.update(c)
    assert dict(fs.categories) == {"a": 2, "b": 2, "c": 1, "__other__": 2}


def test_partition_state_skips_offsets_already_applied_and_survives_pickle() -> None:
    st = PartitionState()
    for off in range(5):
        assert st.apply(off, [_event(off, float(off))])
    with pytest.raises(RuntimeError, match="run_monitors"):
        pickle.dumps(st)  # un-monitored events must not be persisted silently
    st.run_monitors()
    clone = pickle.loads(pickle.dumps(st))
    # a replay of offsets 3..7 after a crash: 3 and 4 are skipped
    applied = [clone.apply(off, [_event(off, float(off))]) for off in range(3, 8)]
    assert applied == [False, False, True, True, True]
    assert clone.models["m"].features["x"].count == 8
    assert clone.models["m"].features["x"].mean == sum(range(8)) / 8


def test_merge_across_partitions_is_exact_for_moments() -> None:
    rng = random.Random(5)
    values = [rng.gauss(0, 1) for _ in range(1000)] + [None] * 10
    states = [PartitionState(), PartitionState()]
    for i, v in enumerate(values):
        states[i % 2].apply(i, [_event(i, v)])
    merged = merge_states(states)["models"]["m"]["features"]["x"]
    nums = np.array([v for v in values if v is not None])
    assert merged["count"] == 1010 and merged["missing"] == 10
    assert math.isclose(merged["mean"], nums.mean(), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(merged["std"], nums.std(ddof=1), rel_tol=1e-9)
    assert merged["min"] == nums.min() and merged["max"] == nums.max()


def test_merge_of_empty_parts_is_empty() -> None:
    assert merge_feature_summaries([FeatureStats().summary()])["count"] == 0
