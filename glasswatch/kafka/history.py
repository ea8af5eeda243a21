"""Follow topics from a bounded tail: the dashboard's history, read at start and kept up live.

:class:`TailFollower` is one group-less aiokafka consumer over several topics. At start each
partition is positioned ``tail`` records before its end (or at its beginning when ``tail`` is
``None``, as for the compacted acks topic) and everything from there is handed to ``on_record``;
then it keeps polling, so the same code rebuilds the view after a restart and follows it live.
Being group-less, it commits nothing and every worker sees every record.

A topic that does not exist yet is waited for (checked again every ``retry_s``); a broker outage
is logged once per cause and retried, never raised into the worker. ``on_record`` must not raise
on bad input (records come from anyone who can write the topics); if it does, the record is
skipped and logged.
(:class:`glasswatch.kafka.follow.TopicFollower` is the router's: one compacted topic, from its
beginning, polled without waiting.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from glasswatch.kafka.admin import refresh_metadata
from glasswatch.monitor.replay import Message
from glasswatch.schemas.coords import Coord

__all__ = ["OnRecord", "TailFollower"]

log = logging.getLogger(__name__)

OnRecord = Callable[[Message], object]
"""Called with each record read (its ``coord.topic`` says which topic); what it returns is ignored."""


class TailFollower:
    """Reads the last ``tails[topic]`` records of each partition of each topic, then follows.

    ``tails[topic]`` ``None`` reads the topic from its beginning. :meth:`run` loops until
    cancelled; :attr:`ready` is set once every partition found at start was read to the end
    offset it had then (the view is rebuilt).
    """

    def __init__(
        self,
        bootstrap: str,
        tails: Mapping[str, int | None],
        on_record: OnRecord,
        *,
        retry_s: float = 5.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.tails = dict(tails)
        self.on_record = on_record
        self.retry_s = retry_s
        self.ready = asyncio.Event()
        self.records = 0
        self._assigned: set[TopicPartition] = set()
        self._catch_up: dict[TopicPartition, int] = {}
        self._logged: set[str] = set()

    async def run(self) -> None:
        """Follow until cancelled, reconnecting after broker errors."""
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
            )
            try:
                await consumer.start()
                self._assigned = set()
                while True:
                    await self._assign_new(consumer)
                    batch = await consumer.getmany(timeout_ms=500, max_records=2000)
                    for msgs in batch.values():
                        for m in msgs:
                            self._handle(m)
                    await self._check_ready(consumer)
                    if not batch and len(self._assigned) < self._wanted():
                        await asyncio.sleep(self.retry_s if not self._assigned else 0.5)
            except (KafkaError, OSError) as exc:
                self._log_once(f"following {sorted(self.tails)} failed ({type(exc).__name__}); retrying")
                await asyncio.sleep(self.retry_s)
            finally:
                await consumer.stop()

    def _wanted(self) -> int:
        return len(self.tails)  # at least one partition per topic

    async def _assign_new(self, consumer: AIOKafkaConsumer) -> None:
        """Assign partitions that appeared since the last look (new topics), each at its tail."""
        if len({tp.topic for tp in self._assigned}) == len(self.tails):
            return
        await refresh_metadata(consumer)
        found = [
            TopicPartition(topic, p)
            for topic in self.tails
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        new = [tp for tp in found if tp not in self._assigned]
        if not new:
            if not self._assigned:
                self.ready.set()  # nothing to rebuild from yet
            return
        self._assigned.update(new)
        consumer.assign(sorted(self._assigned, key=lambda tp: (tp.topic, tp.partition)))
        begins = await consumer.beginning_offsets(new)
        ends = await consumer.end_offsets(new)
        for tp in new:
            tail = self.tails[tp.topic]
            start = begins[tp] if tail is None else max(begins[tp], ends[tp] - tail)
            consumer.seek(tp, start)
            if ends[tp] > start and not self.ready.is_set():
                self._catch_up[tp] = ends[tp]

    async def _check_ready(self, consumer: AIOKafkaConsumer) -> None:
        if self.ready.is_set():
            return
        for tp, end in list(self._catch_up.items()):
            if await consumer.position(tp) >= end:
                del self._catch_up[tp]
        if not self._catch_up:
            self.ready.set()

    def _handle(self, m: Any) -> None:
        self.records += 1
        msg = Message(Coord(m.topic, m.partition, m.offset), m.value, m.key, tuple(m.headers or ()))
        try:
            self.on_record(msg)
        except Exception:  # a bad record must not stop the dashboard's view
            self._log_once(f"skipping a record the dashboard could not read ({m.topic})", exc_info=True)

    def _log_once(self, text: str, *, exc_info: bool = False) -> None:
        if text not in self._logged:
            self._logged.add(text)
            log.warning(text, exc_info=exc_info)
