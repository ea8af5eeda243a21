"""Read exact offset ranges of a topic partition (for replays)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from glasswatch.core.replay import Message
from glasswatch.errors import BrokerError

__all__ = ["read_range"]


async def read_range(
    bootstrap: str, topic: str, partition: int, first: int, last: int, *, timeout_s: float = 60.0
) -> list[Message]:
    """Messages with ``first <= offset <= last`` (fewer if retention already deleted some)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        await consumer.stop()
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    tp = TopicPartition(topic, partition)
    out: list[Message] = []
    try:
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        stop = min(last + 1, end)
        consumer.seek(tp, max(first, begin))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await consumer.position(tp) < stop:
            if loop.time() > deadline:
                raise BrokerError(f"timed out reading {topic}[{partition}] {first}-{last}")
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
            for m in batch.get(tp, []):
                if m.offset < stop:
                    out.append(Message(m.topic, m.partition, m.offset, m.value))
    finally:
        await consumer.stop()
    return out
