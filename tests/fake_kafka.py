"""Stand-ins for the Faust objects the ingest agent touches, for unit tests without a broker.

``FakeEvent`` is a Faust ``EventT`` as the agent uses it (``.message``, ``.value``; a plain class,
so weak-referenceable like Faust's); ``FakeChannel`` is a topic the agent sends to, recording what
it sent and acknowledging at once.
"""

from __future__ import annotations

import asyncio
from typing import Any


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
