"""The live partition state between batches and its changelog value of parts (issue 14).

The cache must never change what is stored or applied: after every batch, the table value decoded
from scratch equals the live state; a batch that failed half-way is never built upon; a part is
re-used only for a model the batch did not touch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fake_kafka import FakeChannel, FakeEvent

import glasswatch.agents.ingest as ingest_agent
from glasswatch.agents.ingest import process_batch
from glasswatch.errors import StateRefused
from glasswatch.ingest.tick_auth import TICK_HEADER, TickAuth
from glasswatch.ingest.validate import Limits
from glasswatch.kafka.app import GlasswatchApp, decode_state
from glasswatch.kafka.state_codec import MAGIC, PARTS_VERSION, StateCodec
from glasswatch.kafka.state_store import HEAD, StateStore, join_state, split_state
from glasswatch.monitor.digest import state_digest
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.events import Tick
from glasswatch.settings import Settings

KEY = b"unit-test-state-key-0123456789"
AUTH = TickAuth(b"t" * 32)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class _Msg:
    def __init__(self, partition: int, offset: int, headers: list[tuple[str, bytes]] | None = None) -> None:
        self.topic, self.partition, self.offset = "preds", partition, offset
        self.key: bytes | None = None
        self.headers = headers or []


class _Faust:
    crashed = False


def _app() -> GlasswatchApp:
    return GlasswatchApp(
        app=_Faust(),
        inputs=None,
        dead_letters=FakeChannel(),
        windows=FakeChannel(),
        alerts=FakeChannel(),
        state={},
        settings=Settings(),
        codec=StateCodec(KEY),
    )


def _pred(i: int, model: str) -> bytes:
    return orjson.dumps(
        {
            "type": "prediction",
            "model": model,
            "model_version": "1",
            "prediction_id": f"{model}{i}",
            "event_time": (NOW - timedelta(seconds=3000 - i)).isoformat(),
            "features": {"x": float(i % 17), "y": float(i % 5)},
        }
    )


def _tick(offset: int, at: datetime) -> FakeEvent:
    headers = [(TICK_HEADER, AUTH.sign("preds", 0, at))]
    return FakeEvent(_Msg(0, offset, headers), Tick(event_time=at).model_dump_json().encode())


def _spec(model: str) -> MonitorSpec:
    return MonitorSpec(
        model=model, window={"size_seconds": 5.0}, anomaly={"enabled": True, "warmup_events": 20}
    )


def _run(gw: GlasswatchApp, events: list[FakeEvent]) -> int:
    return asyncio.run(
        process_batch(gw, events, limits=Limits(), clock=lambda: NOW, spec_for=_spec, tick_auth=AUTH)
    )


def _batches() -> list[list[FakeEvent]]:
    """Batches touching model a, b, both, neither (a bad message), and a tick (every monitor)."""
    off, out = 0, []
    plan = ["a", "b", "ab", "a", "a", "bad", "tick", "b", "ab"]
    for i, kind in enumerate(plan):
        batch: list[FakeEvent] = []
        for j in range(30):
            if kind == "bad":
                batch.append(FakeEvent(_Msg(0, off), b"not json"))
            elif kind == "tick":
                batch.append(_tick(off, NOW - timedelta(seconds=3000 - 200 * i - j)))
            else:
                batch.append(FakeEvent(_Msg(0, off), _pred(30 * i + j, kind[j % len(kind)])))
            off += 1
        out.append(batch)
    return out


def test_after_every_batch_the_stored_value_decodes_to_the_live_state() -> None:
    gw, reference = _app(), _app()
    for batch in _batches():
        _run(gw, batch)
        reference.store.clear()  # the reference decodes its state from the table every batch
        _run(reference, batch)
        live = gw.store.peek("preds:0", gw.state["preds:0"])
        assert live is not None
        stored = decode_state(gw.state["preds:0"], gw.codec)
        assert state_digest(stored) == state_digest(live)
        assert state_digest(decode_state(reference.state["preds:0"], gw.codec)) == state_digest(live)
    assert (gw.store.hits, gw.store.misses) == (8, 0)  # never decoded: the first batch found nothing
    assert gw.store.parts_reused >= 4  # a batch of model a alone kept b's stored parts, and so on
    assert set(live.monitors) == {"a", "b"}


def test_a_part_is_reused_only_for_a_model_the_batch_did_not_touch() -> None:
    gw = _app()
    batches = _batches()
    _run(gw, batches[0] + batches[1])  # models a and b
    before = dict(gw.store._entries["preds:0"].blobs)
    _run(gw, batches[3])  # model a only
    after = gw.store._entries["preds:0"].blobs
    assert after["stats/b"] is before["stats/b"] and after["monitor/b"] is before["monitor/b"]
    assert after["stats/a"] != before["stats/a"] and after[HEAD] != before[HEAD]
    _run(gw, batches[6])  # a tick advances every monitor: nothing is reused
    ticked = gw.store._entries["preds:0"].blobs
    assert all(ticked[name] is not after[name] for name in ticked)


def test_a_batch_that_failed_after_changing_the_state_is_never_built_upon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gw = _app()
    batches = _batches()
    _run(gw, batches[0])
    real = ingest_agent.publish

    async def broken(records: Any) -> None:
        raise ConnectionError("broker went away")

    monkeypatch.setattr(ingest_agent, "publish", broken)
    with pytest.raises(ConnectionError):
        _run(gw, batches[5])  # dead letters: publish fails after the state was changed
    monkeypatch.setattr(ingest_agent, "publish", real)
    assert gw.store.peek("preds:0", gw.state["preds:0"]) is None  # out, and so never handed out
    _run(gw, batches[5])  # Faust delivers the batch again: applied once, from the stored state
    st = gw.read_state("preds:0")
    assert st is not None and (st.accepted, st.rejects["not_json"], st.last_offset) == (30, 30, 179)


def test_a_value_written_by_someone_else_or_a_rebalance_is_decoded_again() -> None:
    store = StateStore(StateCodec(KEY))
    st = PartitionState(topic="p", last_offset=3)
    value = store.encode("p:0", st, changed=None)
    other = StateStore(StateCodec(KEY)).encode("p:0", PartitionState(topic="p", last_offset=9), None)
    assert store.take("p:0", other) is None  # the table holds another worker's write
    assert store.take("p:0", bytes(value)) is st  # equal bytes (a store that copies values) match
    store.encode("p:0", st, changed=None)
    store.clear()  # partitions assigned or revoked
    assert store.take("p:0", store.encode("x", st, None)) is None


def test_a_value_of_parts_is_signed_as_a_whole_and_its_parts_are_typed() -> None:
    codec = StateCodec(KEY)
    st = PartitionState(topic="p", last_offset=3)
    value = StateStore(codec).encode("p:0", st, changed=None)
    assert value.startswith(MAGIC + bytes([PARTS_VERSION]))
    for where in (46, 60, len(value) - 1):
        forged = bytearray(value)
        forged[where] ^= 1
        with pytest.raises(StateRefused) as info:
            decode_state(bytes(forged), codec)
        assert info.value.reason == "tampered"
    wrong = codec.encode_parts({HEAD: codec.encode_part(st), "stats/m": codec.encode_part([1, 2])})
    with pytest.raises(StateRefused) as info:
        decode_state(wrong, codec)
    assert info.value.reason == "wrong_type" and "stats/m" in str(info.value)
    with pytest.raises(StateRefused) as info:
        codec.decode(value, PartitionState)  # parts, but no assemble given
    assert info.value.reason == "wrong_type"
    assert join_state(split_state(st)).last_offset == 3


def test_a_state_written_in_the_one_object_format_is_still_read() -> None:
    codec = StateCodec(KEY)
    st = PartitionState(topic="p", partition=1, last_offset=5)
    assert decode_state(codec.encode(st), codec).last_offset == 5
