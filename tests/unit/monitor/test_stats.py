from __future__ import annotations

import json
import math
import pickle
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from glasswatch.kafka.safe_unpickler import restricted_loads
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


# --- quantiles: the t-digest (issue 14) ------------------------------------------------------

DATA = Path(__file__).parent / "data"


def _rank_error(values: np.ndarray, estimate: float, q: float) -> float:
    s = np.sort(values)
    lo, hi = np.searchsorted(s, estimate, "left") / len(s), np.searchsorted(s, estimate, "right") / len(s)
    return 0.0 if lo <= q <= hi else float(min(abs(lo - q), abs(hi - q)))


@pytest.mark.parametrize("stream", ["normal", "bimodal", "trend", "shift", "integers", "pareto"])
def test_quantiles_are_within_the_documented_rank_error(stream: str) -> None:
    rng = np.random.default_rng(4)
    n = 30_000
    values = {
        "normal": rng.normal(10, 2, n),
        "bimodal": np.where(rng.random(n) < 0.3, rng.normal(0, 1, n), rng.normal(20, 1, n)),
        "trend": np.arange(n) / n + rng.normal(0, 0.05, n),  # P² was off by 0.046 here
        "shift": np.concatenate([rng.normal(0, 1, n // 2), rng.normal(5, 1, n - n // 2)]),
        "integers": rng.integers(0, 6, n).astype(float),  # and by 0.12 here
        "pareto": rng.pareto(1.2, n),
    }[stream]
    fs = FeatureStats().update_many(values.tolist())
    got = fs.quantile_values()
    for q in (0.05, 0.5, 0.95):
        est = got[f"p{round(q * 100):02d}"]
        assert est is not None
        # below the bound by construction: 2 pi sqrt(q (1 - q)) / 500
        assert _rank_error(values, est, q) <= 2 * math.pi * math.sqrt(q * (1 - q)) / 500, (q, est)


def test_update_and_update_many_agree_bit_for_bit_whatever_the_batching() -> None:
    rng = random.Random(9)
    values: list[Any] = [
        None
        if i % 37 == 0
        else rng.choice("ab")
        if i % 11 == 0
        else i % 5
        if i % 13 == 0
        else rng.gauss(0, 1)
        for i in range(5_000)
    ]
    one = FeatureStats()
    for v in values:
        one.update(v)
    many, i = FeatureStats(), 0
    while i < len(values):  # uneven blocks, some across the digest's merge points
        step = rng.choice([1, 7, 255, 256, 257, 900])
        many.update_many(values[i : i + step])
        i += step
    sa, sb = one.summary(), many.summary()
    assert sa.pop("std") == pytest.approx(sb.pop("std"), rel=1e-12)
    assert sa.pop("mean") == pytest.approx(sb.pop("mean"), rel=1e-12)
    assert sa == sb  # quantiles included: exactly equal
    assert pickle.dumps(one._digest) == pickle.dumps(many._digest)


def test_quantile_state_is_bounded() -> None:
    fs = FeatureStats()
    rng = np.random.default_rng(2)
    sizes = []
    for _ in range(5):
        fs.update_many(rng.normal(0, 1, 20_000).tolist())
        sizes.append(len(pickle.dumps(fs)))
    assert len(fs._digest.means) <= 251
    assert max(sizes) - min(sizes) <= 200, sizes  # centroids saturate; the buffer has a fixed size


def test_a_state_pickled_by_the_p2_code_still_loads() -> None:
    """``data/stats_p2.bin`` was pickled by the code before the digest (``make_stats_p2.py``)."""
    raw = (DATA / "stats_p2.bin").read_bytes()
    assert b"river.stats.quantile" in raw
    expected = json.loads((DATA / "stats_p2.json").read_text())
    for objs in (pickle.loads(raw), restricted_loads(raw)):
        assert isinstance(objs, dict)
        got = {
            "numeric": objs["numeric"].summary(),
            "mixed": objs["mixed"].summary(),
            "model": objs["model"].summary(),
        }
        assert json.loads(json.dumps(got)) == expected  # the P² quantiles are reported as they were
    fs = objs["numeric"]
    old_p50, n_old = expected["numeric"]["p50"], fs.numeric_count
    assert not hasattr(fs, "_q") and fs._legacy_n == n_old > 0
    # it keeps counting; the quantiles blend the old estimates with the digest's, by count
    fs.update_many([100.0] * n_old)
    assert fs.numeric_count == 2 * n_old and fs.max == 100.0
    assert fs.quantile_values()["p50"] == pytest.approx((old_p50 + 100.0) / 2)
    again = pickle.loads(pickle.dumps(fs))
    assert again.summary() == fs.summary()
    objs["model"].features["x"].update(1.0)
    assert objs["model"].features["x"].count == expected["model"]["features"]["x"]["count"] + 1
