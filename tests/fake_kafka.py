"""Stand-ins for the Faust objects the ingest agent touches, for unit tests without a broker.

``FakeEvent`` is a Faust ``EventT`` as the agent uses it (``.message``, ``.value``; a plain class,
so weak-referenceable like Faust's); ``FakeChannel`` is a topic the agent sends to, recording what
it sent and acknowledging at once; ``FakeApp`` is the part of ``GlasswatchApp`` the agent touches
(its three output channels and the state table, through pickle like the real one).
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from glasswatch.monitor.partition import PartitionState
from glasswatch.schemas import DeadLetter
from glasswatch.settings import Settings


@dataclass
class FakeMessage:
    """A Kafka message's coordinates, key and headers as the agent reads them."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


class FakeEvent:
    def __init__(self, msg: Any, value: bytes | None) -> None:
        self.message, self.value = msg, value


class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent.append((key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeApp:
    """The parts of GlasswatchApp the ingest agent touches; the state goes through pickle like the
    table (so nothing that is not state can ride in it)."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.dead_letters, self.windows, self.alerts = FakeChannel(), FakeChannel(), FakeChannel()
        self.stored: dict[str, bytes] = {}

    def read_state(self, key: str) -> PartitionState | None:
        value = self.stored.get(key)
        return pickle.loads(value) if value else None  # bytes this test wrote

    def write_state(self, key: str, state: PartitionState, changed: object = None) -> None:
        self.stored[key] = pickle.dumps(state)

    def letters(self) -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v) for _, v in self.dead_letters.sent]
