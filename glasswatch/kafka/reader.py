"""Read exact offset ranges of a topic (for replays, the dead-letter view and tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from glasswatch.errors import BrokerError
from glasswatch.kafka.admin import refresh_metadata
from glasswatch.monitor.replay import Message
from glasswatch.schemas.coords import Coord

__all__ = ["read_partitions", "read_range", "read_topic", "time_ranges"]


async def read_range(
    bootstrap: str,
    topic: str,
    partition: int,
    first: int,
    last: int,
    *,
    timeout_s: float = 60.0,
    progress: Callable[[int], None] | None = None,
) -> list[Message]:
    """Messages with ``first <= offset <= last`` (fewer if retention already deleted some);
    ``progress`` is called with the number of messages each fetch added."""
    async with _consumer(bootstrap, timeout_s) as consumer:
        wanted = {TopicPartition(topic, partition): (first, last + 1)}
        return await read_partitions(consumer, wanted, timeout_s, progress)


async def time_ranges(
    bootstrap: str, topic: str, start: datetime, end: datetime, *, timeout_s: float = 30.0
) -> dict[int, tuple[int, int]]:
    """Per partition of ``topic``, the offsets ``[first, last]`` of the messages whose Kafka
    timestamp lies in ``[start, end]`` (partitions without any are left out)."""
    async with _consumer(bootstrap, timeout_s) as consumer:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await refresh_metadata(consumer)
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return {}
        ends = await consumer.end_offsets(tps)

        async def at(t: datetime) -> dict[TopicPartition, int]:
            found = await consumer.offsets_for_times({tp: int(t.timestamp() * 1000) for tp in tps})
            return {tp: ends[tp] if f is None else f.offset for tp, f in found.items()}

        firsts, stops = await at(start), await at(end + timedelta(milliseconds=1))
        return {tp.partition: (firsts[tp], stops[tp] - 1) for tp in tps if firsts[tp] < stops[tp]}


async def read_topic(bootstrap: str, topic: str, *, timeout_s: float = 30.0) -> list[Message]:
    """Every message of ``topic`` from the beginning to its end *now*, partition by partition.

    Raises :class:`BrokerError` when the read does not finish in ``timeout_s`` (never a silent
    partial answer)."""
    async with _consumer(bootstrap, timeout_s) as consumer:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await refresh_metadata(consumer)
            parts = consumer.partitions_for_topic(topic) or set()
        everything = (0, 1 << 62)
        wanted = {TopicPartition(topic, p): everything for p in sorted(parts)}
        return await read_partitions(consumer, wanted, timeout_s)


@contextlib.asynccontextmanager
async def _consumer(bootstrap: str, timeout_s: float) -> AsyncIterator[AIOKafkaConsumer]:
    """A started, group-less consumer; a clear :class:`BrokerError` when Kafka is unreachable."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        await consumer.stop()
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_partitions(
    consumer: AIOKafkaConsumer,
    ranges: dict[TopicPartition, tuple[int, int]],
    timeout_s: float,
    progress: Callable[[int], None] | None = None,
) -> list[Message]:
    """Read ``[start, stop)`` of each partition with an already started ``consumer``, clipped to
    what the log holds now; :class:`BrokerError` if that takes longer than ``timeout_s``."""
    if not ranges:
        return []
    tps = list(ranges)
    consumer.assign(tps)
    begins = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    stops = {tp: min(ranges[tp][1], ends[tp]) for tp in tps}
    for tp in tps:
        consumer.seek(tp, max(ranges[tp][0], begins[tp]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    out: dict[TopicPartition, list[Message]] = {tp: [] for tp in tps}
    while True:
        positions = {tp: await consumer.position(tp) for tp in tps}
        if all(positions[tp] >= stops[tp] for tp in tps):
            break
        if loop.time() > deadline:
            raise BrokerError(f"timed out reading {sorted(f'{t.topic}[{t.partition}]' for t in tps)}")
        batch = await consumer.getmany(timeout_ms=500, max_records=5000)
        for tp, msgs in batch.items():
            before = len(out[tp])
            out[tp].extend(
                Message(Coord(m.topic, m.partition, m.offset), m.value, m.key, tuple(m.headers or ()))
                for m in msgs
                if m.offset < stops[tp]
            )
            if progress is not None:
                progress(len(out[tp]) - before)
    return [m for tp in tps for m in out[tp]]
