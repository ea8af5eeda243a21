from __future__ import annotations

import math
import pickle
from collections.abc import Iterable, Sequence
from datetime import timedelta

import orjson
import pytest

from glasswatch.ingest.validate import Limits, decode
from glasswatch.monitor.model_monitor import ModelMonitor, MonitorOutput
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.stats import ModelStats
from glasswatch.monitor.summary import WindowSummary
from glasswatch.monitor.windows import Located
from glasswatch.schemas import AlertKind, PredictionEvent, Tick
from glasswatch.schemas.events import TypedEvent
from glasswatch.testing.simulate import simulate

_NO_SKEW = Limits(max_clock_skew_s=1e12, max_age_s=1e12)
NOW = simulate(1)[0].event.event_time
SPEC = MonitorSpec(model="m", window={"size_seconds": 10.0}, anomaly={"enabled": False})


def _log() -> list[bytes]:
    """24,000 events then silence, with the worker's idle ticks every 5 s of event time."""
    recs = simulate(24_000, n_features=2, seed=8)
    msgs = [orjson.dumps(r.event.model_dump(mode="json")) for r in recs]
    last = recs[-1].event.event_time
    msgs += [
        Tick(event_time=last + timedelta(seconds=5 * k)).model_dump_json().encode() for k in range(1, 13)
    ]
    return msgs


def _run(msgs: list[bytes], batch: int) -> list[str]:
    st = PartitionState(topic="p", partition=0)
    ids: list[str] = []
    for i in range(0, len(msgs), batch):
        for off in range(i, min(i + batch, len(msgs))):
            d = decode(msgs[off], now=NOW, limits=_NO_SKEW)
            st.apply(off, d.events, [r.reason for r in d.rejects], d.ticks)
        ids += [a.id for _, o in st.run_monitors(lambda _: SPEC) for a in o.alerts]
        st.take_alerts()
    return ids


def test_ticks_close_windows_of_a_silent_source_and_results_do_not_depend_on_batching() -> None:
    msgs = _log()
    st = PartitionState(topic="p", partition=0)
    for off, raw in enumerate(msgs):
        d = decode(raw, now=NOW, limits=_NO_SKEW)
        assert not d.rejects
        st.apply(off, d.events, ticks=d.ticks)
    alerts = [a for _, o in st.run_monitors(lambda _: SPEC) for a in o.alerts]
    assert any(a.kind is AlertKind.EVENT_RATE and a.signal == "events:rate" for a in alerts)
    assert st.accepted == 24_000  # ticks are not events
    assert _run(msgs, 97) == _run(msgs, 4_001) == _run(msgs, len(msgs))


# -- one message can neither half-apply nor stall the partition (issue 9, items 1, 2, 8) ------------


def _events(n: int, *, model: str = "m", start: int = 0) -> list[PredictionEvent]:
    return [r.event for r in simulate(n, n_features=2, seed=3, model=model, first_offset=start)]


def _poison_on(monkeypatch: pytest.MonkeyPatch, bad_id: str) -> None:
    """Make the statistics raise half-way through updating on the event ``bad_id``."""
    real = ModelStats.update_many

    def update_many(self: ModelStats, events: Iterable[TypedEvent]) -> ModelStats:
        evs = list(events)
        real(self, [e for e in evs if e.prediction_id != bad_id])  # a partial effect first
        if any(e.prediction_id == bad_id for e in evs):
            raise OverflowError("int too large to convert to float")
        return self

    monkeypatch.setattr(ModelStats, "update_many", update_many)


def test_apply_is_atomic_and_a_raising_message_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    evs = _events(60)
    bad = evs[30]
    _poison_on(monkeypatch, bad.prediction_id)
    st = PartitionState(topic="p", partition=0)
    for off, e in enumerate(evs[:30]):
        st.apply(off, [e])
    before = pickle.dumps(st.models)
    # one message holding good events and the poisoned one: nothing of it may stay applied
    with pytest.raises(OverflowError):
        st.apply(30, [evs[29], bad, evs[31]])
    assert pickle.dumps(st.models) == before
    assert (st.last_offset, st.accepted, len(st.pending)) == (29, 30, 30)
    assert st.refuse(30, ["invalid"] * 3)
    for off, e in enumerate(evs[31:], start=31):
        st.apply(off, [e])

    monkeypatch.undo()
    ref = PartitionState(topic="p", partition=0)
    for off, e in enumerate(evs):
        if off != 30:
            ref.apply(off, [e])
    assert st.models["m"].summary() == ref.models["m"].summary()  # each good event exactly once
    assert (st.accepted, dict(st.rejects), st.last_offset) == (59, {"invalid": 3}, 59)
    assert not st.refuse(59)  # already applied: nothing counted twice


def test_a_new_model_whose_first_message_raises_leaves_no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _events(1, model="fresh")[0].model_copy(update={"prediction_id": "poison"})
    _poison_on(monkeypatch, bad.prediction_id)
    st = PartitionState(topic="p", partition=0)
    st.apply(0, _events(5))
    with pytest.raises(OverflowError):
        st.apply(1, [bad])
    assert set(st.models) == {"m"}
    st.run_monitors(lambda _: SPEC)
    assert pickle.loads(pickle.dumps(st)).models.keys() == {"m"}  # the roll-back log is not stored


def test_late_events_count_once_as_rejected_late_not_accepted() -> None:
    recs = simulate(3000, n_features=2, seed=2)
    old = recs[5].event.model_copy(update={"prediction_id": "late-1"})  # far behind the watermark
    st = PartitionState(topic="p", partition=0)
    sent = 0
    for off, r in enumerate(recs):
        st.apply(off, [r.event])
        sent += 1
    st.run_monitors(lambda _: SPEC)
    st.apply(len(recs), [old])
    sent += 1
    late = [rec for _, o in st.run_monitors(lambda _: SPEC) for rec in o.late]
    assert [r.event.prediction_id for r in late] == ["late-1"]
    assert st.rejects["late"] == 1
    assert st.accepted + sum(st.rejects.values()) == sent
    assert st.models["m"].events["prediction"] == st.accepted


def test_a_window_summary_that_cannot_be_built_does_not_freeze_the_frontier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recs = simulate(6000, n_features=2, seed=6)  # 60 s of events: six 10 s windows
    st = PartitionState(topic="p", partition=0)
    for off, r in enumerate(recs[:1500]):
        st.apply(off, [r.event])
    real = WindowSummary.__init__
    calls = {"n": 0}

    def failing(self: WindowSummary, **data: object) -> None:
        calls["n"] += 1
        if data.get("stream") == "feature:x0" and data.get("mean") is not None:
            data = {**data, "std": math.inf}  # an aggregate that overflowed
        real(self, **data)

    monkeypatch.setattr(WindowSummary, "__init__", failing)
    first = [w for _, o in st.run_monitors(lambda _: SPEC) for w in o.windows]
    assert first and calls["n"]
    assert all(w.summaries["feature:x0"].std is None for w in first)  # degraded, not lost
    assert st.monitor_errors == len(first)
    for off, r in enumerate(recs[1500:], start=1500):
        st.apply(off, [r.event])
    later = [w for _, o in st.run_monitors(lambda _: SPEC) for w in o.windows]
    assert len(first) + len(later) >= 5  # the frontier kept moving
    assert later[0].start > first[-1].start


def test_one_models_failing_monitor_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    st = PartitionState(topic="p", partition=0)
    for off, r in enumerate(simulate(3000, n_features=2, seed=1, model="good")):
        st.apply(off, [r.event])
    for off, r in enumerate(simulate(3000, n_features=2, seed=1, model="bad"), start=3000):
        st.apply(off, [r.event])
    real = ModelMonitor.update_many

    def update_many(self: ModelMonitor, records: Sequence[Located]) -> MonitorOutput:
        if self.spec.model == "bad":
            raise ValueError("a monitor bug")
        return real(self, records)

    monkeypatch.setattr(ModelMonitor, "update_many", update_many)
    outputs = st.run_monitors(lambda m: SPEC.model_copy(update={"model": m}))
    assert {m for m, o in outputs if o.windows} == {"good"}
    assert st.monitor_errors == 1 and not st.pending
