from __future__ import annotations

from datetime import timedelta

import orjson

from glasswatch.ingest.validate import Limits, decode
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas import AlertKind, Tick
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
