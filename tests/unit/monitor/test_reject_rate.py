from __future__ import annotations

import pickle
from datetime import UTC, datetime

from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.reject_rate import RejectRate, model_hint
from glasswatch.schemas import AlertKind, AlertStatus, PredictionEvent, Severity


def _run(m: RejectRate, reasons_at: dict[int, list[str]], n: int) -> list[tuple[str, str, int]]:
    out = []
    for off in range(n):
        out += [
            (a.status.value, a.severity.value, a.lineage.offsets[0].first)
            for a in m.update(off, reasons_at.get(off, [])).alerts
        ]
    return out


def test_fires_after_hysteresis_blocks_and_resolves_after_clean_blocks() -> None:
    bad = {off: ["not_json"] for off in range(1000, 3000) if off % 10 == 0}  # 10% in blocks 1 and 2
    m = RejectRate("preds", 3, block_messages=1000, threshold=0.05, hysteresis=2, resolve_after=3)
    assert _run(m, bad, 7000) == [("firing", "warning", 2000), ("resolved", "warning", 5000)]


def test_schema_rejects_make_it_critical_and_one_noisy_block_does_not_fire() -> None:
    m = RejectRate("preds", 0, block_messages=100, threshold=0.05, hysteresis=2, resolve_after=1)
    one_block = {off: ["wrong_type"] for off in range(100, 110)}
    assert _run(m, one_block, 400) == []
    two_blocks = {off: ["unknown_schema_version"] for off in range(400, 600) if off % 5 == 0}
    assert _run(RejectRate("preds", 0, block_messages=100, hysteresis=2), two_blocks, 700)[0][:2] == (
        "firing",
        "critical",
    )


def test_partition_state_raises_dead_letter_alerts_deterministically_and_survives_pickle() -> None:
    ev = PredictionEvent(
        model="m",
        model_version="1",
        prediction_id="p",
        event_time=datetime(2026, 1, 1, tzinfo=UTC),
        features={"x": 1.0},
    )

    def feed(st: PartitionState, offsets: range) -> list:
        alerts = []
        for off in offsets:
            st.apply(off, [] if 1000 <= off < 3000 else [ev], ["not_json"] if 1000 <= off < 3000 else [])
            alerts += st.take_alerts()
        return alerts

    whole = feed(PartitionState(topic="t", partition=1), range(4000))
    st = PartitionState(topic="t", partition=1)
    first = feed(st, range(1500))
    st.run_monitors()
    restored = pickle.loads(pickle.dumps(st))
    again = feed(restored, range(1200, 4000))  # a replay overlapping what was applied
    assert [a.id for a in whole] == [a.id for a in first + again]
    (a,) = whole
    assert a.kind is AlertKind.DEAD_LETTERS
    assert a.status is AlertStatus.FIRING
    assert a.severity is Severity.WARNING
    assert a.evidence["rejects"] == {"not_json": 1000}
    assert a.starts_at == ev.event_time


def test_update_returns_self_and_alerts_hold_only_the_last_transition() -> None:
    m = RejectRate("preds", 0, block_messages=2, threshold=0.5, hysteresis=1, resolve_after=1)
    assert m.update(0, ["not_json"]) is m
    assert m.alerts == ()
    assert [a.status for a in m.update(1).alerts] == [AlertStatus.FIRING]
    assert m.firing
    assert m.update(2).alerts == ()  # the transition is not repeated
    assert [a.status for a in m.update(3).alerts] == [AlertStatus.RESOLVED]
    assert not m.firing


def test_schema_rejects_raise_schema_break_for_the_model_and_resolve_it_as_such() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    m = RejectRate("preds", 2, block_messages=10, threshold=0.3, hysteresis=1, resolve_after=1)
    fired = []
    for off in range(30):
        broken = 10 <= off < 15
        m.update(
            off,
            ["missing_field"] if broken else [],
            model="churn" if broken else None,
            event_time=t.replace(second=off),
        )
        fired += m.alerts
    firing, resolved = fired
    assert (firing.kind, firing.severity, firing.model) == (
        AlertKind.SCHEMA_BREAK,
        Severity.CRITICAL,
        "churn",
    )
    assert firing.labels["source_topic"] == "preds"
    assert firing.labels["source_partition"] == "2"
    assert firing.evidence["models"] == {"churn": 5}
    assert "--model churn" in (firing.replay_command or "")
    assert firing.starts_at == t.replace(second=19)
    assert (resolved.kind, resolved.status, resolved.model) == (
        AlertKind.SCHEMA_BREAK,
        AlertStatus.RESOLVED,
        "churn",
    )
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.ends_at == t.replace(second=29)


def test_model_is_the_topic_unless_one_model_makes_most_rejects() -> None:
    m = RejectRate("preds", 0, block_messages=4, threshold=0.5, hysteresis=1)
    for off, model in enumerate(["a", "b", None, "a"]):
        m.update(off, ["wrong_type"], model=model)
    (a,) = m.alerts
    assert (a.kind, a.model) == (AlertKind.SCHEMA_BREAK, "preds")  # "a": 2 of 4 is not a majority
    assert "--model <model>" in (a.replay_command or "")
    m = RejectRate("preds", 0, block_messages=4, threshold=0.5, hysteresis=1)
    for off, model in enumerate(["a", "a", None, "a"]):
        m.update(off, ["not_json"], model=model)
    (a,) = m.alerts
    assert (a.kind, a.severity, a.model) == (AlertKind.DEAD_LETTERS, Severity.WARNING, "a")


def test_model_hint_takes_the_key_then_the_json_model_and_never_raises() -> None:
    assert model_hint(b"churn", b'{"model": "fraud"}') == "churn"
    assert model_hint(None, b'{"type": "prediction", "model": "fraud", "features": 1}') == "fraud"
    assert model_hint(b"", b'{"model": "fraud"}') == "fraud"
    assert model_hint(b"not a name!", b'{"model": "fraud"}') == "fraud"
    for key, raw in [
        (None, None),
        (b"\xff\xfe", b"\xff"),
        (None, b"[1, 2]"),
        (None, b'{"model": ["x"]}'),
        (None, b'{"model": "' + b"x" * 200 + b'"}'),  # longer than a model name may be
        (None, b'{"model": "fraud", "pad": "' + b"x" * 70_000 + b'"}'),  # too big to parse again
        (None, b"[" * 100_000),
        ("churn", None),  # not bytes
    ]:
        assert model_hint(key, raw) is None  # type: ignore[arg-type]


def test_partition_state_names_the_model_of_a_schema_break() -> None:
    st = PartitionState(topic="t", partition=0)
    st.reject_rate = RejectRate("t", 0, block_messages=10, hysteresis=1)
    for off in range(10):
        st.apply(off, [], ["unknown_schema_version"], reject_model="churn")
    (a,) = st.take_alerts()
    assert (a.kind, a.model, a.signal) == (AlertKind.SCHEMA_BREAK, "churn", "dlq:t:0:rate")


def _as_earlier_format(m: RejectRate) -> RejectRate:
    """``m`` pickled as the earlier RejectRate wrote itself (own breach/clean counters, no Latch)."""
    state = dict(m.__dict__)
    latch = state.pop("_latch")
    streak = latch._streak
    del state["_models"], state["_alerts"]
    state["_breaching"], state["_clean"] = (0, streak) if latch.active else (streak, 0)
    old = RejectRate.__new__(RejectRate)
    old.__setstate__(state)
    return pickle.loads(pickle.dumps(old))


def test_a_state_of_the_earlier_format_continues_like_the_original() -> None:
    bad = {off: ["not_json"] for off in range(100, 400) if off % 4 == 0}
    for cut in (250, 350, 550):  # mid breaching streak, while firing, mid clean streak
        m = RejectRate("preds", 0, block_messages=100, threshold=0.05, hysteresis=2, resolve_after=2)
        head = _run(m, bad, cut)
        restored = _as_earlier_format(m)
        tail = [(off, bad.get(off, [])) for off in range(cut, 900)]
        mine = [(a.id, a.lineage.offsets[0].first) for off, r in tail for a in m.update(off, r).alerts]
        theirs = [
            (a.id, a.lineage.offsets[0].first) for off, r in tail for a in restored.update(off, r).alerts
        ]
        assert mine == theirs
        assert len(head) + len(mine) == 2  # one firing, one resolve
