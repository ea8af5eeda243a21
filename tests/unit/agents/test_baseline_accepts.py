"""Where a baseline accept applies: at a point of the log, whatever the batch boundaries."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta

import pytest

from glasswatch.agents.baseline_accepts import (
    LATE_GRACE,
    AcceptBook,
    accepting_state,
    run_with_accepts,
)
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.replay import Message, Replayer
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.schemas.baseline_accept import BaselineAccept
from glasswatch.testing.simulate import simulate

SPEC = MonitorSpec(model="m", window={"size_seconds": 10}, anomaly={"enabled": False})
# 20 events/s, 10 s windows: 20 warm-up windows, a persistent mean shift of x0 from event 5000
RECS = simulate(12_000, n_features=2, rate=20, change="mean_shift", change_at=5000, magnitude=1.0, seed=3,
                model="m")  # fmt: skip
AT = RECS[8000].event.event_time


def _accept(
    at: datetime = AT, signal: str | None = "feature:x0:*", accept_id: str = "a" * 32
) -> BaselineAccept:
    return BaselineAccept.create(model="m", signal=signal, at=at, by="ana", created_at=AT,
                                 accept_id=accept_id)  # fmt: skip


def _run(
    recs: list[Located], chunk: int, accepts: tuple[BaselineAccept, ...], state: PartitionState | None = None
) -> tuple[list[Alert], PartitionState]:
    st = state or PartitionState(topic="p", partition=0)
    out: list[Alert] = []
    for s in range(0, len(recs), chunk):
        for r in recs[s : s + chunk]:
            st.apply(r.coord.offset, [r.event])
        out += [a for _, o in run_with_accepts(st, accepts, lambda _: SPEC) for a in o.alerts]
    return out, st


def _x0(alerts: list[Alert]) -> list[tuple[str, str, str]]:
    return [
        (a.status.value, a.kind.value, a.labels["source"])
        for a in alerts
        if a.signal.startswith("feature:x0:")
    ]


def test_an_accept_resolves_the_shift_and_it_stays_quiet_at_the_new_level() -> None:
    without, _ = _run(RECS, 1000, ())
    assert [s for s, *_ in _x0(without)] == ["firing", "firing"]  # persistent: never resolves by itself
    alerts, st = _run(RECS, 1000, (_accept(),))
    assert _x0(alerts) == [*_x0(without), ("resolved", "threshold_dynamic", "dynamic"),
                           ("resolved", "drift_detector", "detector:page_hinkley")]  # fmt: skip
    resolves = [a for a in alerts if a.status is AlertStatus.RESOLVED]
    assert {a.ends_at for a in resolves} == {AT}
    assert all(a.evidence["accept_id"] == "a" * 32 and a.evidence["accepted_by"] == "ana" for a in resolves)
    assert all("accept_late" not in a.evidence for a in resolves)
    assert resolves[0].lineage.state_offsets[0].topic == "p"
    assert st.monitors["m"].open_alerts == {}
    assert "a" * 32 in st.monitors["m"].accepted


@pytest.mark.parametrize("chunk", [7, 97, 2500, 12_000])
def test_batch_boundaries_change_nothing(chunk: int) -> None:
    ref, ref_state = _run(RECS, 1000, (_accept(),))
    got, st = _run(RECS, chunk, (_accept(),))
    assert [(a.id, a.evidence) for a in got] == [(a.id, a.evidence) for a in ref]
    assert st.monitors["m"].state_digest() == ref_state.monitors["m"].state_digest()


def test_a_replay_with_the_accepting_state_gives_the_workers_alerts() -> None:
    ref, _ = _run(RECS, 1000, (_accept(),))
    msgs = [Message(r.coord, r.event.model_dump_json().encode()) for r in RECS]
    r = Replayer(model="m", spec=SPEC)
    r.state = accepting_state("predictions", 0, [_accept()])
    for s in range(0, len(msgs), 777):
        r.update(msgs[s : s + 777])
    got = r.result(close_open=False).alerts
    assert [(a.id, a.evidence) for a in got] == [(a.id, a.evidence) for a in ref]


def test_a_restored_state_does_not_apply_an_accept_twice() -> None:
    first, st = _run(RECS[:9000], 1000, (_accept(),))
    restored = pickle.loads(pickle.dumps(st))
    again, _ = _run(RECS[9000:], 1000, (_accept(),), restored)
    assert [a for a in again if "accept_id" in a.evidence] == []
    assert len([a for a in first if "accept_id" in a.evidence]) == 2


def test_a_late_accept_applies_at_the_next_record_and_says_so() -> None:
    _, st = _run(RECS[:9000], 1000, ())  # the monitor is already past AT
    later, _ = _run(RECS[9000:9200], 1000, (_accept(),), st)
    resolves = [a for a in later if a.status is AlertStatus.RESOLVED]
    assert len(resolves) == 2 and all(a.evidence["accept_late"] is True for a in resolves)
    # far too late: ignored (an old accept the monitor no longer remembers is not re-applied)
    _, st = _run(RECS[:9000], 1000, ())
    old = _accept(at=AT - LATE_GRACE - timedelta(minutes=5), accept_id="b" * 32)
    stale, st = _run(RECS[9000:9200], 1000, (old,), st)
    assert [a for a in stale if a.status is AlertStatus.RESOLVED] == []
    assert "b" * 32 not in st.monitors["m"].accepted


def test_an_accept_of_other_signals_or_models_resolves_nothing_here() -> None:
    other = BaselineAccept.create(model="n", signal=None, at=AT, by="x", created_at=AT, accept_id="c" * 32)
    alerts, st = _run(RECS, 3000, (_accept(signal="feature:x1:*"), other))
    assert [s for s, *_ in _x0(alerts)] == ["firing", "firing"]
    assert "c" * 32 not in st.monitors["m"].accepted


def test_the_book_is_bounded_and_keeps_the_first_record_of_an_id() -> None:
    book = AcceptBook()
    a = _accept()
    book.add(a).add(a.model_copy(update={"by": "mallory"}))
    assert [x.by for x in book.of("m")] == ["ana"]
    st = PartitionState(topic="p", partition=0)
    st.apply(0, [RECS[0].event])
    assert book.for_state(st) == [a]
    st.run_monitors(lambda _: SPEC)
    assert book.for_state(st) == [a]  # a model with a monitor
