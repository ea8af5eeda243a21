"""The baseline-accepts topic: write an accept, read them all, follow the topic from the worker.

The topic (``TopicSettings.baseline_accepts``, default ``<alerts>.baseline-accepts``) is a log,
not a compacted store: every :class:`~glasswatch.schemas.baseline_accept.BaselineAccept` is kept
(a year, :data:`~glasswatch.kafka.admin.ACCEPTS_CONFIG`), one partition, keyed by model, so a
replay finds every accept that applied in the range it replays. :class:`AcceptLog` writes
(``glasswatch baseline accept``, the dashboard's button; ``acks=all``) and reads the whole topic
(``glasswatch baseline list``, ``glasswatch replay``); :class:`AcceptFeed` follows it for the
worker, group-less from its beginning, as :class:`~glasswatch.kafka.follow.TopicFollower` does
for the compacted topics, and can :meth:`~AcceptFeed.catch_up` to the end offsets of *now*: the
worker does that at the start of each batch, so an accept stored before a batch started is known
to that batch. A record that is not a valid accept, or whose key is not its model, is skipped
and logged (anyone may write the topic), never fatal. Where an accept applies is
:mod:`glasswatch.agents.baseline_accepts`'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import pydantic
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from glasswatch.errors import BrokerError
from glasswatch.kafka.admin import ACCEPTS_CONFIG, TopicSpec, ensure_topics
from glasswatch.kafka.compacted import CompactedTopic, topic_partitions
from glasswatch.kafka.reader import read_topic
from glasswatch.schemas.baseline_accept import BaselineAccept

__all__ = ["FETCH_MAX_WAIT_MS", "AcceptFeed", "AcceptLog", "ensure_accepts_topic", "parse_accept",
           "read_accepts"]

_log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 50
"""The feed's fetch long-poll: short, as a catch-up waits for it (see ``AcceptFeed._read_to_end``)."""


def parse_accept(key: bytes | None, raw: bytes | None) -> BaselineAccept | None:
    """The accept in a record, or None for one that is not a valid accept keyed by its model."""
    if raw is None:
        return None
    try:
        accept = BaselineAccept.model_validate_json(raw)
    except pydantic.ValidationError:
        return None
    return accept if key == accept.model.encode() else None


def _parse_all(records: Iterable[tuple[int, bytes | None, bytes | None]], topic: str) -> list[BaselineAccept]:
    out = []
    for offset, key, raw in records:
        accept = parse_accept(key, raw)
        if accept is None:
            _log.warning("skipping an unreadable baseline accept at %s@%d", topic, offset)
        else:
            out.append(accept)
    return out


async def ensure_accepts_topic(bootstrap: str, topic: str, *, replication: int = 1) -> None:
    """Create the accepts topic (one partition, :data:`ACCEPTS_CONFIG`) unless it exists."""
    await ensure_topics(bootstrap, [TopicSpec(topic, 1, replication, ACCEPTS_CONFIG)])


class AcceptLog:
    """Writes accepts to ``topic`` and reads them back."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._writer = CompactedTopic(bootstrap, topic, create=False)  # only its acks=all producer
        self._ensured = False

    async def put(self, accept: BaselineAccept) -> None:
        """Store ``accept`` (keyed by its model); returns once the broker has it (``acks=all``)."""
        if not self._ensured:
            await ensure_accepts_topic(self.bootstrap, self.topic)
            self._ensured = True
        await self._writer.put(accept.model, accept.model_dump_json().encode())

    async def read(self, model: str | None = None) -> list[BaselineAccept]:
        """Every valid accept in the topic (of ``model`` only, if given), in topic order; none
        when the topic does not exist (reading creates nothing)."""
        msgs = await read_topic(self.bootstrap, self.topic)
        found = _parse_all(((m.coord.offset, m.key, m.value) for m in msgs), self.topic)
        return [a for a in found if model is None or a.model == model]

    async def close(self) -> None:
        await self._writer.close()


async def read_accepts(bootstrap: str, topic: str, model: str) -> list[BaselineAccept]:
    """``model``'s accepts on ``topic``, in topic order (what a replay applies)."""
    log = AcceptLog(bootstrap, topic)
    try:
        return await log.read(model)
    finally:
        await log.close()


class AcceptFeed:
    """Follows the accepts topic from its beginning (group-less: every worker sees every accept)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._consumer: AIOKafkaConsumer | None = None
        self._parts: list[TopicPartition] = []

    @property
    def started(self) -> bool:
        return self._consumer is not None

    async def start(self) -> None:
        """Create the topic if needed and position at its beginning (Kafka errors propagate)."""
        await ensure_accepts_topic(self.bootstrap, self.topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
        await consumer.start()
        try:
            self._parts = await topic_partitions(consumer, self.topic)
            consumer.assign(self._parts)
            await consumer.seek_to_beginning(*self._parts)
            for tp in self._parts:
                await consumer.position(tp)  # resolve the beginning now: paused, nothing fetches
            consumer.pause(*self._parts)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer

    async def catch_up(self, timeout_s: float = 5.0) -> list[BaselineAccept]:
        """The accepts written since the last call, reading at least to the end offsets of now
        (starting the feed on first use); :class:`BrokerError` after ``timeout_s``."""
        try:
            if self._consumer is None:
                await self.start()
            consumer = self._consumer
            assert consumer is not None
            return await asyncio.wait_for(self._read_to_end(consumer), timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BrokerError(f"cannot follow {self.topic} ({type(exc).__name__})") from exc

    async def _read_to_end(self, consumer: AIOKafkaConsumer) -> list[BaselineAccept]:
        """Between catch-ups the partitions are paused, so no fetch of the feed is in flight:
        ``end_offsets`` shares the connection with the fetches, and the broker answers a
        connection's requests in order, so it used to wait behind the feed's own long-poll (up to
        500 ms, 174–220 ms per worker batch on average; ``bench/latency.py``, issue 14). Most
        batches find nothing new and fetch nothing."""
        ends = await consumer.end_offsets(self._parts)
        records: list[tuple[int, bytes | None, bytes | None]] = []
        if all([await consumer.position(tp) >= ends[tp] for tp in self._parts]):
            return []
        consumer.resume(*self._parts)
        try:
            while True:
                done = all([await consumer.position(tp) >= ends[tp] for tp in self._parts])
                batch = await consumer.getmany(timeout_ms=0 if done else 100)  # at the end: no wait
                records += [(r.offset, r.key, r.value) for recs in batch.values() for r in recs]
                if done:
                    return _parse_all(records, self.topic)
        finally:
            consumer.pause(*self._parts)

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
