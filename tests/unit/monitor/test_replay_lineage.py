"""An alert's lineage says where its state began and when its window was evaluated; replaying
exactly that gives the same alert (issue 13, part 4)."""

from __future__ import annotations

import math
import pickle
import shlex

import orjson

from glasswatch.ingest.validate import Limits, decode
from glasswatch.monitor.model_monitor import Located, ModelMonitor
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.replay import Message, Replayer
from glasswatch.monitor.signal_alert import replay_command
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.coords import Coord, OffsetRange
from glasswatch.schemas.events import EPOCH
from glasswatch.testing.simulate import simulate

SPEC = MonitorSpec.model_validate(
    {
        "model": "m",
        "window": {"size_seconds": 1},
        "anomaly": {"enabled": False},
        "default": {"enabled": False},
        "signals": {"feature:x0:mean": {"dynamic": {"warmup": 10}}},
    }
)
ANY_TIME = Limits(max_clock_skew_s=math.inf, max_age_s=math.inf)
FIRST = 7  # the partition's log starts here (retention, or a state created mid-log)


def _messages(batch: int = 25) -> list[Message]:
    recs = simulate(4000, n_features=2, change="mean_shift", change_at=2500, magnitude=3.0, seed=2)
    out = []
    for k in range(0, len(recs), batch):
        doc = {"schema_version": 1, "type": "batch",
               "events": [r.event.model_dump(mode="json") for r in recs[k : k + batch]]}  # fmt: skip
        out.append(Message(Coord("p", 0, FIRST + k // batch), orjson.dumps(doc)))
    return out


def _worker_run(msgs: list[Message], per_batch: int) -> list:  # type: ignore[type-arg]
    """What the worker does: apply a batch of messages, run the monitors, repeat."""
    r = Replayer(model="m", spec=SPEC)
    alerts = []
    for k in range(0, len(msgs), per_batch):
        before = len(r.result(close_open=False).alerts)
        r.update(msgs[k : k + per_batch])
        alerts.extend(r.result(close_open=False).alerts[before:])
    return alerts


def test_partition_state_keeps_its_first_offset_and_restores_old_states() -> None:
    st = PartitionState(topic="p", partition=0)
    st.apply(12, [])
    st.apply(13, [])
    assert (st.first_offset, st.state_range.first, st.state_range.last) == (12, 12, 13)
    assert pickle.loads(pickle.dumps(st)).first_offset == 12
    old = pickle.loads(pickle.dumps(st))
    del old.__dict__["first_offset"]
    restored = pickle.loads(pickle.dumps(old))  # a state stored before the field existed
    assert restored.first_offset == -1 and restored.state_range.first == 0  # the log's beginning


def test_alerts_carry_the_state_range_and_a_command_that_replays_it() -> None:
    msgs = _messages()
    alerts = _worker_run(msgs, per_batch=9)
    firing = [a for a in alerts if a.status.value == "firing"]
    assert firing
    a = firing[0]
    (state,) = a.lineage.state_offsets
    (window,) = a.lineage.offsets
    assert state.first == FIRST and state.first <= window.first <= window.last < state.last
    assert (state.last - FIRST + 1) % 9 == 0  # the end of the worker's batch that closed the window
    argv = shlex.split(a.replay_command or "")
    assert argv[argv.index("--from") + 1] == str(FIRST)
    assert argv[argv.index("--through") + 1] == str(state.last)
    assert f"p:0:{window.first}-{window.last}" in argv
    # the same alert (id) as a monitor fed the events outside any partition state
    bare = ModelMonitor(SPEC)
    recs = [Located(e, m.coord) for m in msgs for e in decode(m.value, now=EPOCH, limits=ANY_TIME).events]
    plain = [x for x in bare.update_many(recs).alerts if x.id == a.id]
    assert plain and plain[0].evidence == a.evidence and plain[0].lineage.state_offsets == ()


def test_replaying_the_state_range_reproduces_the_alert_in_any_chunking() -> None:
    msgs = _messages()
    a = next(x for x in _worker_run(msgs, per_batch=9) if x.status.value == "firing")
    (state,) = a.lineage.state_offsets
    wanted = [m for m in msgs if state.first <= m.coord.offset <= state.last]
    for chunk in (1, 50, len(wanted)):
        r = Replayer(model="m", spec=SPEC)
        for k in range(0, len(wanted), chunk):
            r.update(wanted[k : k + chunk])
        result = r.result(close_open=False)
        same = [x for x in result.alerts if x.id == a.id]
        assert same and same[0].evidence == a.evidence
        assert not result.closed_early
        if chunk == len(wanted):  # one batch like the worker's last: the very same lineage
            assert same[0].lineage == a.lineage
    # cut at the window's last offset and closed early, the window would differ (issue 13)
    (window,) = a.lineage.offsets
    cut = Replayer(model="m", spec=SPEC).update([m for m in msgs if m.coord.offset <= window.last])
    assert not cut.covered(window.last)
    assert cut.result(close_open=True).closed_early


def test_replay_command_without_offsets_is_still_runnable() -> None:
    assert replay_command("m", ()) is None
    cmd = replay_command("m; rm -rf /", (), window=("2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00"))
    assert cmd is not None
    argv = shlex.split(cmd)
    assert argv[:4] == ["glasswatch", "replay", "--model", "m; rm -rf /"]  # quoted: one argument
    assert "--from-time" in argv and "--to-time" in argv
    only_state = replay_command("m", (), (OffsetRange(topic="p", partition=1, first=0, last=9),))
    assert only_state == "glasswatch replay --model m --offsets p:1:0-9 --from 0 --through 9"
