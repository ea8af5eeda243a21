"""The one use of aiokafka's private attributes (:func:`glasswatch.kafka.admin.refresh_metadata`)
still matches aiokafka: these fail when an aiokafka release moves or changes them. No broker needed."""

from __future__ import annotations

import asyncio
import inspect
import re
from pathlib import Path
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer
from aiokafka.client import AIOKafkaClient

import glasswatch
from glasswatch.kafka.admin import refresh_metadata


def test_consumer_keeps_a_client_whose_force_metadata_update_returns_an_awaitable() -> None:
    async def probe() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", group_id=None)  # never started
        try:
            client = consumer._client
            assert isinstance(client, AIOKafkaClient)
            update = client.force_metadata_update
            assert callable(update)
            assert list(inspect.signature(update).parameters) == []
            pending = update()
            assert inspect.isawaitable(pending)
            assert isinstance(pending, asyncio.Future)  # refresh_metadata awaits it
            pending.cancel()
        finally:
            await consumer.stop()

    asyncio.run(probe())


def test_refresh_metadata_awaits_the_clients_force_metadata_update() -> None:
    calls: list[str] = []

    async def probe() -> None:
        loop = asyncio.get_running_loop()

        def force_metadata_update() -> asyncio.Future[bool]:
            calls.append("update")
            done: asyncio.Future[bool] = loop.create_future()
            loop.call_soon(done.set_result, True)
            return done

        consumer = SimpleNamespace(_client=SimpleNamespace(force_metadata_update=force_metadata_update))
        await refresh_metadata(consumer)

    asyncio.run(probe())
    assert calls == ["update"]


def test_no_other_module_reaches_into_an_aiokafka_client() -> None:
    root = Path(glasswatch.__file__).parent
    private = re.compile(r"(?<!self)\._client\b")
    users = sorted(
        str(p.relative_to(root)) for p in root.rglob("*.py") if private.search(p.read_text(encoding="utf-8"))
    )
    assert users == ["kafka/admin.py"]
