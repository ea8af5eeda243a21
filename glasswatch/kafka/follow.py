"""Follow a compacted topic from its beginning, group-less: every reader sees every record.

The router follows silences and acks this way, the worker's label join the drift verdicts:
small topics whose whole content is the state, read at start and then as it grows.
:class:`TopicFollower` creates the topic when missing (``cleanup.policy=compact``), assigns all
its partitions at their beginning and hands out new records without waiting; parsing (and
skipping what does not validate — anyone may write these topics) is the caller's.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from glasswatch.kafka.compacted import ensure_compacted_topic, topic_partitions

__all__ = ["TopicFollower"]


class TopicFollower:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def started(self) -> bool:
        return self._consumer is not None

    async def start(self) -> None:
        """Create the topic if needed and position at its beginning (Kafka errors propagate)."""
        await ensure_compacted_topic(self.bootstrap, self.topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            parts = await topic_partitions(consumer, self.topic)
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer

    async def poll(self, timeout_ms: int = 0) -> list[ConsumerRecord[bytes, bytes]]:
        """Records written since the last poll (waiting at most ``timeout_ms``), in order per partition."""
        if self._consumer is None:
            return []
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        return [rec for records in batch.values() for rec in records]

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
