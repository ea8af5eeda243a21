from __future__ import annotations

import pickle
from datetime import UTC, datetime

from glasswatch.ingest.reject_rate import RejectRate
from glasswatch.monitor.partition import PartitionState
from glasswatch.schemas import AlertKind, AlertStatus, PredictionEvent, Severity


def _run(m: RejectRate, reasons_at: dict[int, list[str]], n: int) -> list[tuple[str, str, int]]:
    out = []
    for off in range(n):
        out += [
            (a.status.value, a.severity.value, a.lineage.offsets[0].first)
            for a in m.update(off, reasons_at.get(off, []))
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
