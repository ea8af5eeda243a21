from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from glasswatch.core.windows import Located, WindowAggregator
from glasswatch.schemas.events import FeatureEvent, LabelEvent, PredictionEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(i: int, sec: float, x: float | str | None = 1.0, *, partition: int = 0, pred: float = 0.5) -> Located:
    e = PredictionEvent(
        model="m",
        model_version="v1",
        prediction_id=f"p{i}",
        event_time=T0 + timedelta(seconds=sec),
        features={"x": x, "c": "a" if i % 4 else "b"},
        prediction=pred,
    )
    return Located(e, "predictions", partition, i)


def test_tumbling_windows_close_on_watermark_with_late_events() -> None:
    w = WindowAggregator("m", size_seconds=10, allowed_lateness_seconds=3)
    out = w.update_many([ev(0, 1, 1.0), ev(1, 9, 3.0), ev(2, 12, 5.0), ev(3, 8, 2.0)])
    assert out.closed == []  # watermark 9 < 10
    assert out.late == []
    out = w.update_many([ev(4, 14, 7.0), ev(5, 2, 9.0), ev(6, 25, 0.0)])
    assert [c.start for c in out.closed] == [T0, T0 + timedelta(seconds=10)]
    first = out.closed[0].summaries["feature:x"]
    assert (first.count, first.mean, first.min, first.max) == (3, 2.0, 1.0, 3.0)
    assert first.late_accepted == 1  # event 3 came after event 2 but inside the lateness
    assert [r.offset for r in out.late] == [5]
    assert w.n_late == 1
    assert w.watermark == T0 + timedelta(seconds=22)


def test_summary_statistics_missing_rate_categories_and_offsets() -> None:
    w = WindowAggregator("m", size_seconds=10)
    recs = [ev(i, i * 0.5, float(i) if i % 5 else None, partition=i % 2) for i in range(20)]
    out = w.update_many([*recs, ev(99, 30)])
    s = out.closed[0].summaries["feature:x"]
    values = np.array([float(i) for i in range(20) if i % 5], dtype=float)
    assert s.count == 20
    assert s.missing_rate == pytest.approx(4 / 20)
    assert s.mean == pytest.approx(values.mean())
    assert s.std == pytest.approx(values.std(ddof=1))
    assert s.p95 == pytest.approx(np.quantile(values, 0.95))
    assert s.categories == {}
    assert out.closed[0].summaries["feature:c"].categories == {"a": 0.75, "b": 0.25}
    assert [(o.partition, o.first, o.last) for o in s.offsets] == [(0, 0, 18), (1, 1, 19)]
    assert s.model_version == "v1"
    events = out.closed[0].summaries["events"]
    assert events.count == 20
    assert events.mean == pytest.approx(0.5)  # inter-arrival gap
    assert events.signal("rate") == pytest.approx(2.0)


def test_hopping_windows_contain_each_event_size_over_hop_times() -> None:
    w = WindowAggregator("m", size_seconds=10, hop_seconds=5)
    out = w.update_many([ev(i, i) for i in range(40)])
    counts = {c.start: c.summaries["events"].count for c in out.closed}
    assert counts[T0] == 10
    assert counts[T0 + timedelta(seconds=5)] == 10
    assert all(c.end - c.start == timedelta(seconds=10) for c in out.closed)


@pytest.mark.parametrize("hop", [None, 2.0])
def test_batch_boundaries_never_change_windows(hop: float | None) -> None:
    rng = np.random.default_rng(3)
    secs = np.cumsum(rng.exponential(0.3, 400)) + rng.normal(0, 1.5, 400)  # out of order
    recs = [ev(i, float(max(s, 0)), float(i)) for i, s in enumerate(secs)]

    def run(batch: int) -> list[object]:
        w = WindowAggregator("m", size_seconds=6, hop_seconds=hop, allowed_lateness_seconds=2)
        closed, late = [], []
        for i in range(0, len(recs), batch):
            out = w.update_many(recs[i : i + batch])
            closed += out.closed
            late += [r.offset for r in out.late]
        return [[c.summaries for c in closed], late]

    whole = run(len(recs))
    assert whole[1]  # the test stream does produce late events
    assert run(1) == whole
    assert run(37) == whole


def test_empty_windows_are_closed_and_capped() -> None:
    w = WindowAggregator("m", size_seconds=10, max_empty_windows=3)
    out = w.update_many([ev(0, 1), ev(1, 35)])
    assert [c.summaries["events"].count for c in out.closed] == [1, 0, 0]
    out = w.update_many([ev(2, 1000)])
    assert [c.summaries["events"].count for c in out.closed] == [1, 0, 0, 0]
    assert out.closed[0].start == T0 + timedelta(seconds=30)


def test_advance_closes_idle_windows_and_labels_are_ignored() -> None:
    w = WindowAggregator("m", size_seconds=10)
    label = Located(LabelEvent(model="m", prediction_id="p0", event_time=T0, label=1), "labels", 0, 0)
    feat = Located(
        FeatureEvent(
            model="m", prediction_id="p1", event_time=T0 + timedelta(seconds=2), features={"x": 4.0}
        ),
        "features",
        0,
        0,
    )
    assert w.update_many([label, feat]).closed == []
    closed = w.advance(T0 + timedelta(seconds=20))
    assert closed[0].summaries["feature:x"].mean == 4.0
    assert "prediction" not in closed[0].summaries


def test_features_filter_categorical_override_and_pickle() -> None:
    w = WindowAggregator("m", size_seconds=10, features=["x"], categorical=["x"])
    w.update_many([ev(0, 1, 1.0), ev(1, 2, 2.0)])
    w2 = pickle.loads(pickle.dumps(w))
    out = w2.update_many([ev(2, 15)])
    s = out.closed[0].summaries
    assert "feature:c" not in s
    assert s["feature:x"].categories == {"1.0": 0.5, "2.0": 0.5}
    assert s["feature:x"].mean is None


def test_is_late_matches_update() -> None:
    w = WindowAggregator("m", size_seconds=10, allowed_lateness_seconds=1)
    assert not w.is_late(T0)
    w.update(ev(0, 25))
    assert w.is_late(T0 + timedelta(seconds=15))  # [10, 20) closed: watermark 24
    assert not w.is_late(T0 + timedelta(seconds=20))
