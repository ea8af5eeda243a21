"""The ingest agent's batch step with an in-memory app: no message crashes it, forges a tick or
multiplies its dead letters (issue 9, items 1, 3, 4, 8). The real broker runs the same in
tests/integration/test_hostile_producers.py."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fake_kafka import FakeApp, FakeChannel, FakeEvent, FakeMessage

import glasswatch.agents.ingest as ingest_agent
from glasswatch.agents.ingest import process_batch
from glasswatch.agents.ingest_metrics import IngestMetrics
from glasswatch.errors import ConfigError
from glasswatch.ingest.tick_auth import TICK_HEADER, TickAuth
from glasswatch.ingest.validate import Limits
from glasswatch.kafka.app import GlasswatchApp, encode_state
from glasswatch.kafka.state_codec import StateCodec
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.stats import ModelStats
from glasswatch.schemas import Tick
from glasswatch.schemas.events import TypedEvent
from glasswatch.settings import Settings

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTH = TickAuth(b"s" * 32)


_Msg = FakeMessage


_App = FakeApp


def _pred(i: int, **features: Any) -> bytes:
    return orjson.dumps(
        {
            "type": "prediction",
            "model": "m",
            "model_version": "1",
            "prediction_id": f"p{i}",
            "event_time": (NOW - timedelta(seconds=1000 - i)).isoformat(),
            "features": {"x": float(i), **features},
        }
    )


def _run(app: _App, values: Iterable[bytes | None], *, first: int = 0, **kw: Any) -> int:
    events = [FakeEvent(_Msg("preds", 0, first + i, b"m"), v) for i, v in enumerate(values)]
    return _run_events(app, events, **kw)


def _run_events(app: _App, events: list[FakeEvent], **kw: Any) -> int:
    kw.setdefault("tick_auth", AUTH)
    return asyncio.run(
        process_batch(app, events, limits=Limits(), clock=lambda: NOW, monitors=True, **kw)  # type: ignore[arg-type]
    )


def test_a_message_whose_apply_raises_is_dead_lettered_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ModelStats.update_many

    def update_many(self: ModelStats, events: Iterable[TypedEvent]) -> ModelStats:
        evs = list(events)
        real(self, [e for e in evs if e.prediction_id != "p501"])
        if any(e.prediction_id == "p501" for e in evs):
            raise OverflowError("int too large to convert to float")
        return self

    monkeypatch.setattr(ModelStats, "update_many", update_many)
    app, metrics = _App(), IngestMetrics()
    applied = _run(app, [_pred(i) for i in range(1000)], metrics=metrics)
    assert applied == 999
    st = app.read_state("preds:0")
    assert st is not None
    assert (st.accepted, dict(st.rejects), st.last_offset) == (999, {"invalid": 1}, 999)
    assert st.models["m"].features["x"].count == 999  # every other event exactly once
    (letter,) = app.letters()
    assert (letter.reason, letter.source_offset, letter.error_class) == ("invalid", 501, "OverflowError")
    assert "internal error" in letter.detail and "Traceback" not in letter.model_dump_json()
    assert letter.raw_bytes() == _pred(501)
    assert metrics.apply_errors == 1
    assert _run(app, [_pred(1000)], first=1000) == 1  # the partition is not stalled


def test_a_decoder_bug_refuses_one_message_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import glasswatch.agents.ingest as agent

    real = agent.decode

    def decode(raw: bytes | None, **kw: Any) -> Any:
        if raw is not None and b'"p3"' in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw, **kw)

    monkeypatch.setattr(agent, "decode", decode)
    app = _App()
    assert _run(app, [_pred(i) for i in range(6)]) == 5
    (letter,) = app.letters()
    assert (letter.reason, letter.error_class, letter.source_offset) == ("invalid", "RecursionError", 3)


def test_ticks_need_the_worker_signature() -> None:
    app = _App()
    _run(app, [_pred(i) for i in range(10)])
    forged = Tick(event_time=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)).model_dump_json().encode()
    soon = NOW + timedelta(seconds=30)
    good = Tick(event_time=soon).model_dump_json().encode()
    stolen = [(TICK_HEADER, AUTH.sign("preds", 1, soon))]  # signed for another partition
    ahead = NOW + timedelta(days=3)
    far = Tick(event_time=ahead).model_dump_json().encode()
    events = [
        FakeEvent(_Msg("preds", 0, 10), forged),
        FakeEvent(_Msg("preds", 0, 11, headers=stolen), good),
        FakeEvent(_Msg("preds", 0, 12, headers=[(TICK_HEADER, b"00" * 32)]), good),
        FakeEvent(_Msg("preds", 0, 13, headers=[(TICK_HEADER, AUTH.sign("preds", 0, ahead))]), far),
    ]
    _run_events(app, events)
    reasons = [(d.source_offset, d.reason) for d in app.letters()]
    assert reasons == [(10, "forged_tick"), (11, "forged_tick"), (12, "forged_tick"), (13, "clock_skew")]
    st = app.read_state("preds:0")
    assert st is not None and st.rejects["forged_tick"] == 3
    assert _run(app, [_pred(20)], first=14) == 1  # event time did not move: accepted, not late
    assert not [d for d in app.letters() if d.reason == "late"]
    # the worker's own tick does move event time on: an old event after it is late
    signed = [(TICK_HEADER, AUTH.sign("preds", 0, soon))]
    _run_events(
        app,
        [FakeEvent(_Msg("preds", 0, 15, headers=signed), good), FakeEvent(_Msg("preds", 0, 16), _pred(21))],
    )
    assert [d.source_offset for d in app.letters() if d.reason == "late"] == [16]


def test_a_batch_of_bad_items_costs_one_letter_of_the_message_size() -> None:
    items = [{"type": "prediction", "model": "m"} for _ in range(10_000)]  # each misses fields
    raw = orjson.dumps({"type": "batch", "events": items})
    app = _App()
    _run(app, [raw])
    (letter,) = app.letters()
    size = sum(len(v) for _, v in app.dead_letters.sent)
    assert size <= 2 * len(raw)
    assert letter.rejected == 10_000 and letter.reason == "missing_field"
    assert sorted(i for i, _ in letter.rejected_items()) == list(range(10_000))
    st = app.read_state("preds:0")
    assert st is not None and st.rejects == {"missing_field": 10_000}


# --- a state signed with another worker's key stops the worker, untouched --------------------


class _Faust:
    """The part of ``faust.App`` the agent uses to stop (mode's ``Service.crash``)."""

    def __init__(self) -> None:
        self.crashes: list[BaseException] = []

    @property
    def crashed(self) -> bool:
        return bool(self.crashes)

    async def crash(self, reason: BaseException) -> None:
        self.crashes.append(reason)


def _signed_app(key: bytes) -> GlasswatchApp:
    """A real :class:`GlasswatchApp` (its ``read_state`` and codec) over in-memory channels."""
    return GlasswatchApp(
        app=_Faust(),
        inputs=None,
        dead_letters=FakeChannel(),
        windows=FakeChannel(),
        alerts=FakeChannel(),
        state={},
        settings=Settings(),
        codec=StateCodec(key),
    )


def test_a_state_signed_with_another_key_crashes_the_app_and_nothing_is_written_or_sent(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(ingest_agent, "_exit_now", exits.append)  # the real one ends the process
    mine, theirs = b"the key this worker was given.." * 2, b"the key of another worker, not ours" * 2
    other = _signed_app(theirs)
    own = _signed_app(mine)
    own.state["preds:0"] = encode_state(PartitionState(topic="preds", partition=0, last_offset=9), own.codec)
    own.state["preds:1"] = encode_state(
        PartitionState(topic="preds", partition=1, last_offset=9), other.codec
    )
    before = dict(own.state)
    batch = [FakeEvent(_Msg("preds", 0, 10 + i), _pred(i)) for i in range(5)]
    batch += [FakeEvent(_Msg("preds", 1, 10 + i), _pred(i)) for i in range(5)]
    batch += [FakeEvent(_Msg("preds", 0, 15), b"not json")]  # would be dead-lettered
    metrics = IngestMetrics()
    with caplog.at_level(logging.DEBUG, logger="glasswatch"):
        assert _run_events(own, batch, metrics=metrics) == 0  # type: ignore[arg-type]
        assert _run_events(own, batch, metrics=metrics) == 0  # type: ignore[arg-type]  # a batch after it
    assert own.state == before  # neither partition written: the stored state stays as it was
    assert not (own.dead_letters.sent or own.alerts.sent or own.windows.sent)
    assert metrics.messages == metrics.batches == 0
    faust_app = own.app
    assert isinstance(faust_app, _Faust) and len(faust_app.crashes) == 1
    assert exits == [ingest_agent.EXIT_CONFIG]  # told once, and the process ends at once
    (reason,) = faust_app.crashes
    assert isinstance(reason, ConfigError) and "GLASSWATCH_WORKER__STATE_KEY" in str(reason)
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "preds:1" in critical[0].getMessage()
    text = caplog.text + str(reason)
    assert mine.decode() not in text and theirs.decode() not in text  # the keys are never told


def test_other_refusals_still_restart_the_partition_from_empty_state() -> None:
    app = _signed_app(b"the key this worker was given.." * 2)
    value = bytearray(encode_state(PartitionState(topic="preds", partition=0, last_offset=9), app.codec))
    value[-1] ^= 0x01  # tampered
    app.state["preds:0"] = bytes(value)
    assert _run_events(app, [FakeEvent(_Msg("preds", 0, i), _pred(i)) for i in range(3)]) == 3  # type: ignore[arg-type]
    st = app.read_state("preds:0")
    assert st is not None and (st.accepted, st.last_offset) == (3, 2)
    faust_app = app.app
    assert isinstance(faust_app, _Faust) and not faust_app.crashed


class _AgentHost(_Faust):
    """Registers the agent (``app.agent``) and timer (``app.timer``) ``attach_ingest`` adds."""

    def __init__(self) -> None:
        super().__init__()
        self.agents: list[Any] = []

    def agent(self, channel: Any, *, name: str) -> Any:
        return self.agents.append

    def timer(self, *, interval: float, name: str) -> Any:
        return lambda fun: fun


class _Stream:
    """``take_events`` as Faust's: a batch is acknowledged when the generator is resumed or closed."""

    def __init__(self, batches: list[list[FakeEvent]]) -> None:
        self.batches, self.acked, self.taken = batches, list[int](), 0

    async def take_events(self, max_: int, within: float) -> Any:
        for batch in self.batches:
            self.taken += 1
            try:
                yield batch
            finally:
                self.acked.extend(ev.message.offset for ev in batch)


def test_the_agent_leaves_the_batch_it_stopped_on_unacknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    from glasswatch.agents.ingest import attach_ingest

    exits: list[int] = []
    monkeypatch.setattr(ingest_agent, "_exit_now", exits.append)  # the real one ends the process

    app = _signed_app(b"the key this worker was given.." * 2)
    host = _AgentHost()
    app.app = host  # type: ignore[assignment]
    app.state["preds:0"] = encode_state(PartitionState(topic="preds"), StateCodec(b"another key" * 4))
    stream = _Stream([[FakeEvent(_Msg("preds", 0, i), _pred(i))] for i in range(3)])
    attach_ingest(app, tick_auth=AUTH)
    (agent,) = host.agents

    async def run() -> list[int]:
        await agent(stream)
        gc.collect()
        for _ in range(3):
            await asyncio.sleep(0)  # a finaliser closing the generator (and acknowledging) runs here
        return list(stream.acked)  # while the worker is stopping (its consumer commits what is acked)

    assert asyncio.run(run()) == []  # not acknowledged: its offsets are never committed
    assert len(host.crashes) == 1 and stream.taken == 1  # stopped on the first batch, took no other
    assert exits == [ingest_agent.EXIT_CONFIG]
