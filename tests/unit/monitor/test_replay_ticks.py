"""A replay judges ticks as the worker did: signed ones count, forged ones are refused (issue 9, item 3)."""

from __future__ import annotations

from datetime import timedelta

import orjson

from glasswatch.ingest.tick_auth import TICK_HEADER, TickAuth
from glasswatch.monitor.replay import Message, replay
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import Tick
from glasswatch.testing.simulate import simulate

AUTH = TickAuth(b"w" * 32)
SPEC = MonitorSpec(model="m", window={"size_seconds": 10.0}, anomaly={"enabled": False})


def _log(headers: tuple[tuple[str, bytes], ...] | None) -> list[Message]:
    recs = simulate(1000, n_features=2, seed=5)
    msgs = [
        Message(Coord("p", 0, i), orjson.dumps(r.event.model_dump(mode="json"))) for i, r in enumerate(recs)
    ]
    last = recs[-1].event.event_time
    for k in range(1, 7):
        t = last + timedelta(seconds=10 * k)
        signed = ((TICK_HEADER, AUTH.sign("p", 0, t)),) if headers is None else headers
        msgs.append(
            Message(Coord("p", 0, len(msgs)), Tick(event_time=t).model_dump_json().encode(), None, signed)
        )
    return msgs


def test_replay_takes_signed_ticks_and_refuses_forged_ones() -> None:
    signed = replay(_log(None), model="m", spec=SPEC, close_open=False, tick_auth=AUTH)
    unsigned = replay(_log(()), model="m", spec=SPEC, close_open=False, tick_auth=AUTH)
    bogus = replay(_log(((TICK_HEADER, b"0" * 64),)), model="m", spec=SPEC, close_open=False, tick_auth=AUTH)
    assert not signed.rejects and len(signed.windows) > len(unsigned.windows)
    assert unsigned.rejects == {"forged_tick": 6} == bogus.rejects
    keyless = replay(_log(None), model="m", spec=SPEC, close_open=False)  # header present, unverifiable
    assert [w.model_dump() for w in keyless.windows] == [w.model_dump() for w in signed.windows]
    trusted = replay(_log(()), model="m", spec=SPEC, close_open=False, trust_ticks=True)
    assert not trusted.rejects and len(trusted.windows) == len(signed.windows)
