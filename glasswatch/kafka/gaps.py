"""Fill gaps in a partition's offsets: what the consumer skipped is read back from Kafka.

Exactly-once in effect rests on two facts: the state records the last offset it applied per
source partition, and the consumer resumes from a committed offset no later than the first one
the state lacks. Faust can break the second. During a rebalance it suspends flow control and
clears the agents' queues; a message still inside the conductor (awaiting a full queue) lands in
a queue after the clear, and the stream *acks* an event it skips because flow control is off or
its generation is stale ("we want to ack the filtered out message, otherwise the lag would
increase"). ``Consumer.on_partitions_revoked`` has already forgotten the partition's acked and
committed offsets, so the next commit takes that lone acked offset as the new position, past the
messages that were cleared from the queues. If the partition then moves to another worker, the
new owner starts after a hole. (Seen in the consumer-group fault run with two agents on the
predictions topic: one message of one partition in 2 of 4 runs; the worker's state showed
``last_offset`` 5 and the next batch started at 7.)

So the agents do not trust the consumer's position: before applying a source partition's
events, :meth:`GapFiller.fill` compares the first offset not yet applied with the state's last
applied offset, and reads the hole back with a group-less consumer (:func:`read_partitions`),
putting those messages first. A hole may legitimately hold nothing (transaction markers take
offsets; retention may have deleted old records): then nothing is added. A fresh state
(``last_applied < 0``) has no hole by definition. The read is retried until the broker answers
(the consumer of the same partition just fetched from it), loudly.

Examples
--------
>>> holes = missing_range(last_applied=5, offsets=[7, 8])
>>> holes
(6, 6)
>>> missing_range(last_applied=5, offsets=[6, 7]) is None, missing_range(-1, [7]) is None
(True, True)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from glasswatch.errors import BrokerError
from glasswatch.kafka.reader import read_partitions

__all__ = ["GapFiller", "RecoveredEvent", "RecoveredMessage", "missing_range"]

log = logging.getLogger(__name__)


def missing_range(last_applied: int, offsets: Sequence[int]) -> tuple[int, int] | None:
    """``(first, last)`` of the offsets between ``last_applied`` and the first of ``offsets`` that
    is newer, or None when there is no hole (or no applied offset to measure from)."""
    if last_applied < 0:
        return None
    newer = [o for o in offsets if o > last_applied]
    if not newer:
        return None
    first = min(newer)
    return (last_applied + 1, first - 1) if first > last_applied + 1 else None


@dataclass(frozen=True, slots=True)
class RecoveredMessage:
    """The parts of a Faust message the agents read, for a message read back from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class RecoveredEvent:
    """Stands for a Faust event (``.message``, ``.value``) of a message the consumer skipped."""

    message: RecoveredMessage
    value: bytes | None


@dataclass
class GapFiller:
    """Reads the holes of source partitions back from Kafka (one consumer, started on first use)."""

    bootstrap: str
    timeout_s: float = 30.0
    gaps: int = 0
    """Holes found (including empty ones)."""
    recovered: int = 0
    """Messages read back into a batch."""
    _consumer: AIOKafkaConsumer | None = field(default=None, repr=False)

    async def fill(self, events: Sequence[Any], last_applied: int) -> list[Any]:
        """``events`` (of one topic-partition, in offset order) with the messages of the hole
        before them, if there is one."""
        if not events:
            return list(events)
        hole = missing_range(last_applied, [ev.message.offset for ev in events])
        if hole is None:
            return list(events)
        topic, partition = events[0].message.topic, events[0].message.partition
        found = await self._read(topic, partition, *hole)
        self.gaps += 1
        self.recovered += len(found)
        if found:
            log.warning(
                "%s[%d]: the consumer skipped offsets %d-%d (after a rebalance); read %d message(s) "
                "back from Kafka", topic, partition, hole[0], hole[1], len(found),
            )  # fmt: skip
        return [*found, *events]

    async def fill_batch(self, events: Sequence[Any], last_applied: Callable[[str, int], int]) -> list[Any]:
        """``events`` of any source partitions with each partition's hole (``last_applied(topic,
        partition)`` is its state's last applied offset) read back and put right before that
        partition's first event; the order of everything else is kept."""
        firsts: dict[tuple[str, int], int] = {}
        for i, ev in enumerate(events):
            firsts.setdefault((ev.message.topic, ev.message.partition), i)
        inserts: dict[int, list[Any]] = {}
        for (topic, partition), i in firsts.items():
            mine = [ev for ev in events[i:] if (ev.message.topic, ev.message.partition) == (topic, partition)]
            filled = await self.fill(mine, last_applied(topic, partition))
            if len(filled) > len(mine):
                inserts[i] = filled[: len(filled) - len(mine)]
        if not inserts:
            return list(events)
        out: list[Any] = []
        for i, ev in enumerate(events):
            out.extend(inserts.get(i, ()))
            out.append(ev)
        return out

    async def _read(self, topic: str, partition: int, first: int, last: int) -> list[RecoveredEvent]:
        delay = 0.5
        while True:
            try:
                consumer = await self._get_consumer()
                msgs = await read_partitions(consumer, {TopicPartition(topic, partition): (first, last + 1)},
                                             self.timeout_s)  # fmt: skip
                return [
                    RecoveredEvent(
                        RecoveredMessage(m.coord.topic, m.coord.partition, m.coord.offset, m.key, m.headers),
                        m.value,
                    )
                    for m in msgs
                ]
            except (BrokerError, KafkaError, OSError, TimeoutError) as exc:
                log.warning("reading back %s[%d] %d-%d failed (%s); retrying in %.1fs",
                            topic, partition, first, last, exc, delay)  # fmt: skip
                await self.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _get_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                        enable_auto_commit=False)  # fmt: skip
            try:
                await asyncio.wait_for(consumer.start(), self.timeout_s)
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer
        return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            try:
                await consumer.stop()
            except (KafkaError, OSError) as exc:
                log.debug("stopping the gap reader failed: %s", exc)
