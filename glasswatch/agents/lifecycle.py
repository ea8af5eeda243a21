"""What the plain-aiokafka processes share (drift, explain): their Kafka clients and their run.

:func:`start_clients` starts an idempotent ``acks=all`` producer and a consumer of one topic (or
several: a started aiokafka consumer must not change its subscription) in a consumer group that
commits by hand (``enable_auto_commit=False``, from the earliest offset when
the group is new); a broker that cannot be reached is one :class:`BrokerError` naming the
process, with whatever was started stopped again. :func:`stop_clients` stops them, quietly when
they are already gone. :func:`run_until_signal` runs a process's ``run(stop)`` until SIGTERM or
SIGINT sets ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from glasswatch.errors import BrokerError

__all__ = ["run_until_signal", "start_clients", "stop_clients"]

log = logging.getLogger(__name__)


async def start_clients(
    bootstrap: str, topic: str | tuple[str, ...], group_id: str, *, what: str
) -> tuple[AIOKafkaProducer, AIOKafkaConsumer]:
    """A started producer and a started consumer of ``topic`` (one or several) in ``group_id``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    topics = (topic,) if isinstance(topic, str) else topic
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=group_id,
                                enable_auto_commit=False, auto_offset_reset="earliest")  # fmt: skip
    try:
        await producer.start()
        await consumer.start()
    except (KafkaError, OSError) as exc:
        await stop_clients(producer, consumer, what=what)
        raise BrokerError(f"{what}: cannot reach Kafka at {bootstrap}: {exc}") from exc
    return producer, consumer


async def stop_clients(*clients: AIOKafkaProducer | AIOKafkaConsumer | None, what: str) -> None:
    for client in clients:
        if client is not None:
            try:
                await client.stop()
            except (KafkaError, OSError) as exc:  # already gone: nothing left to release
                log.debug("%s: stopping a Kafka client failed: %s", what, exc)


def run_until_signal(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """``asyncio.run`` of ``run(stop)``; SIGTERM and SIGINT set ``stop`` (the work in flight ends first)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await run(stop)

    asyncio.run(main())
