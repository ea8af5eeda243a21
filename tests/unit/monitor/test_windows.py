from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from glasswatch.monitor import windows
from glasswatch.monitor.aggregates import MAX_CATEGORIES, OTHER, StreamAgg, quantiles
from glasswatch.monitor.digest import state_digest
from glasswatch.monitor.reservoir import CAPACITY, stream_key
from glasswatch.monitor.windows import Located, WindowAggregator, to_millis
from glasswatch.schemas.coords import Coord
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
    return Located(e, Coord("predictions", partition, i))


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
    assert [r.coord.offset for r in out.late] == [5]
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
            late += [r.coord.offset for r in out.late]
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
    label = Located(LabelEvent(model="m", prediction_id="p0", event_time=T0, label=1), Coord("labels", 0, 0))
    feat = Located(
        FeatureEvent(
            model="m", prediction_id="p1", event_time=T0 + timedelta(seconds=2), features={"x": 4.0}
        ),
        Coord("features", 0, 0),
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


# -- bounded pane state: mergeable aggregates instead of events --------------------------------


def test_quantile_sketch_is_within_its_documented_rank_error_of_numpy() -> None:
    """p05/p50/p95 of 100,000 normals: rank error < 4 * sqrt(q (1 - q) / CAPACITY) (sketch docs)."""
    rng = np.random.default_rng(11)
    qs = (0.05, 0.5, 0.95)
    rank_errors = []
    for k in range(8):
        values = rng.normal(50.0, 10.0, 100_000)
        agg = StreamAgg(stream_key(k, "feature:x", 0))
        for v in values.tolist():
            agg.add(v)
        part = agg.part()
        assert part is not None
        assert len(part.sample) == CAPACITY
        assert part.mean == pytest.approx(values.mean(), rel=1e-12)
        assert part.std == pytest.approx(values.std(ddof=1), rel=1e-9)
        assert (part.lo, part.hi) == (values.min(), values.max())
        got = quantiles([part], qs)
        exact = np.quantile(values, qs)
        ordered = np.sort(values)
        ranks = [np.searchsorted(ordered, g) / len(values) - q for g, q in zip(got, qs, strict=True)]
        bound = [4 * np.sqrt(q * (1 - q) / CAPACITY) for q in qs]
        assert all(abs(r) < b for r, b in zip(ranks, bound, strict=True)), (got, exact)
        assert all(abs(g - e) < 0.6 * 10.0 for g, e in zip(got, exact, strict=True))  # < 0.6 sigma
        rank_errors.append(ranks)
    rms = np.sqrt(np.mean(np.square(rank_errors), axis=0))
    assert all(r < 1.5 * np.sqrt(q * (1 - q) / CAPACITY) for r, q in zip(rms, qs, strict=True))


def test_quantiles_are_exact_while_panes_keep_every_value() -> None:
    w = WindowAggregator("m", size_seconds=10, hop_seconds=5)
    recs = [ev(i, i * 9.9 / 500, float((i * 7919) % 500)) for i in range(500)]  # 250 per pane
    out = w.update_many([*recs, ev(999, 30)])
    s = out.closed[1].summaries["feature:x"]  # [0, 10): both panes, 500 values
    values = [float((i * 7919) % 500) for i in range(500)]
    assert s.count == 500
    assert [s.p05, s.p50, s.p95] == [float(v) for v in np.quantile(values, (0.05, 0.5, 0.95))]


def test_categories_are_bounded_with_an_other_bucket() -> None:
    w = WindowAggregator("m", size_seconds=10)
    out = w.update_many([*(ev(i, i * 0.01, f"c{i % 100}") for i in range(900)), ev(999, 30)])
    cats = out.closed[0].summaries["feature:x"].categories
    assert len(cats) == MAX_CATEGORIES + 1
    assert cats[OTHER] == pytest.approx(36 * 9 / 900)
    assert sum(cats.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("hop", [None, 2.0])
def test_batch_boundaries_never_change_windows_beyond_sketch_capacity(hop: float | None) -> None:
    rng = np.random.default_rng(4)
    n = 6_000
    secs = np.cumsum(rng.exponential(0.004, n)) + rng.normal(0, 0.3, n)  # ~500 events per 2 s
    secs[::500] -= 8.0  # a few events too late for any window
    xs = rng.normal(0, 1, n)
    recs = [
        ev(i, float(max(s, 0)), float(xs[i]) if i % 7 else None, pred=float(xs[i] ** 2))
        for i, s in enumerate(secs)
    ]

    def run(batch: int, restore_at: int | None = None) -> tuple[list[object], str]:
        w = WindowAggregator("m", size_seconds=6, hop_seconds=hop, allowed_lateness_seconds=1)
        closed, late = [], []
        for i in range(0, n, batch):
            if restore_at is not None and i >= restore_at:
                w, restore_at = pickle.loads(pickle.dumps(w)), None
            out = w.update_many(recs[i : i + batch])
            closed += out.closed
            late += [r.coord.offset for r in out.late]
        return [[c.summaries for c in closed], late], state_digest(w)

    whole = run(n)
    windows = whole[0][0]
    assert isinstance(windows, list)
    assert max(s["feature:x"].count for s in windows) > 4 * CAPACITY  # panes beyond capacity
    assert whole[0][1]  # and late events
    assert run(1) == whole
    assert run(37) == whole
    assert run(777) == whole
    assert run(500, restore_at=2_500) == whole


def test_snapshot_of_the_event_buffering_format_restores_into_aggregates() -> None:
    recs = [ev(i, i * 0.05, float(i % 17) if i % 5 else None) for i in range(600)]
    new = WindowAggregator("m", size_seconds=30, hop_seconds=10)
    new.update_many(recs)
    old = WindowAggregator.__new__(WindowAggregator)  # the state as the earlier format pickled it
    old.__dict__.update({k: v for k, v in vars(new).items() if k not in ("seed", "_categorical", "_wanted")})
    old._panes = {}
    for ps in new._panes:
        mine = [r for r in recs if to_millis(r.event.event_time) // 10_000 * 10_000 == ps]
        pane = windows._Pane()
        pane.__dict__.update(
            rows=[r.event.features for r in mine],  # type: ignore[union-attr]
            preds=[r.event.prediction for r in mine],  # type: ignore[union-attr]
            lats=[None for _ in mine],
            times=[to_millis(r.event.event_time) for r in mine],
            extras=[None for _ in mine],
            offsets={("predictions", 0): [mine[0].coord.offset, mine[-1].coord.offset]},
            version="v1",
            late_accepted=0,
        )
        old._panes[ps] = pane  # type: ignore[assignment]
    restored = pickle.loads(pickle.dumps(old))
    assert state_digest(restored._panes) == state_digest(new._panes)
    later = T0 + timedelta(seconds=100)
    assert [c.summaries for c in restored.advance(later)] == [c.summaries for c in new.advance(later)]
