"""A small key → value store on a compacted Kafka topic (aiokafka).

``put(key, value)`` waits for the broker's acknowledgement (``acks=all``), so once it returns
the value survives a crash of this process. ``read_all()`` reads every partition from the
beginning to the end offsets observed when it started and returns the latest value per key
(a ``None`` value — a tombstone — deletes the key). Compaction keeps the topic small.
"""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from glasswatch.errors import BrokerError
from glasswatch.kafka.admin import COMPACT, TopicSpec, ensure_topics, refresh_metadata
from glasswatch.kafka.reader import read_partitions

__all__ = ["CompactedTopic", "ensure_compacted_topic", "topic_partitions"]


async def topic_partitions(
    consumer: AIOKafkaConsumer, topic: str, timeout: float = 30.0
) -> list[TopicPartition]:
    """The partitions of ``topic`` (waiting for metadata of a brand-new topic)."""

    async def wait() -> list[TopicPartition]:
        while True:
            found = consumer.partitions_for_topic(topic)
            if found:
                return [TopicPartition(topic, p) for p in sorted(found)]
            await refresh_metadata(consumer)
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(wait(), timeout)


async def ensure_compacted_topic(
    bootstrap: str, topic: str, *, partitions: int = 1, replication: int = 1
) -> None:
    """Create ``topic`` with ``cleanup.policy=compact`` unless it exists (see :func:`ensure_topics`)."""
    await ensure_topics(bootstrap, [TopicSpec(topic, partitions, replication, COMPACT)])


class CompactedTopic:
    """Latest-value-per-key storage; see the module docstring."""

    def __init__(self, bootstrap: str, topic: str, *, create: bool = True) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.create = create
        self._producer: AIOKafkaProducer | None = None
        self._ensured = False

    async def _ensure(self) -> None:
        if self.create and not self._ensured:
            await ensure_compacted_topic(self.bootstrap, self.topic)
        self._ensured = True

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            await self._ensure()
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                await producer.stop()
                raise BrokerError(f"cannot reach Kafka at {self.bootstrap} ({type(exc).__name__})") from exc
            self._producer = producer
        return self._producer

    async def put(self, key: str, value: bytes | None) -> None:
        """Store ``value`` under ``key`` (``None`` deletes); returns once the broker has it."""
        await self.put_many([(key, value)])

    async def put_many(self, items: list[tuple[str, bytes | None]]) -> None:
        """Store several values; returns once the broker acknowledged all of them."""
        if not items:
            return
        producer = await self._get_producer()
        futures = [await producer.send(self.topic, key=k.encode(), value=v) for k, v in items]
        try:
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise BrokerError(f"writing to {self.topic} failed ({type(exc).__name__})") from exc

    async def read_all(self, timeout: float = 30.0) -> dict[str, bytes]:
        """The latest value of every key, reading to the end of the topic."""
        await self._ensure()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            client_id=f"glasswatch-read-{uuid.uuid4().hex[:8]}",
        )
        out: dict[str, bytes] = {}
        try:
            await consumer.start()
            parts = await topic_partitions(consumer, self.topic, timeout)
            everything = (0, 1 << 62)
            for rec in await read_partitions(consumer, dict.fromkeys(parts, everything), timeout):
                if rec.key is None:
                    continue
                key = rec.key.decode()
                if rec.value is None:
                    out.pop(key, None)
                else:
                    out[key] = rec.value
        except (KafkaError, OSError) as exc:
            raise BrokerError(f"cannot read {self.topic} at {self.bootstrap} ({type(exc).__name__})") from exc
        finally:
            await consumer.stop()
        return out

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
