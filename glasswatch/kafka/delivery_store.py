"""The router's delivery log, kept durably in a compacted topic (``TopicSettings.deliveries``).

Two kinds of key:

* ``receiver|fingerprint|status`` → a :class:`~glasswatch.alerting.dedup.DeliveryRecord` (episode
  ``starts_at``, time, outcome; no secrets): what :class:`~glasswatch.alerting.dedup.DeliveryLog`
  knows, reloaded at start so a restarted router re-pages no one;
* ``dead-letter|topic|partition|offset`` → a marker for an unreadable alert message that was
  already dead-lettered, so a restart does not dead-letter it twice.

Kafka rather than a local sqlite file because the router then keeps no disk state: it can be
restarted on any host; compaction keeps one record per key. Writes wait for ``acks=all``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pydantic

from glasswatch.alerting.dedup import DeliveryLog, DeliveryRecord
from glasswatch.kafka.compacted import CompactedTopic
from glasswatch.schemas.coords import Coord

__all__ = ["DeliveryStore"]

_log = logging.getLogger(__name__)

_DEAD_PREFIX = "dead-letter|"


def _dead_key(coord: Coord) -> str:
    return f"{_DEAD_PREFIX}{coord.topic}|{coord.partition}|{coord.offset}"


class DeliveryStore:
    """Delivery records and dead-lettered alert messages on ``topic``; see the module docstring."""

    def __init__(self, topic: CompactedTopic) -> None:
        self.topic = topic
        self._dead_lettered: set[str] = set()

    async def load(self, into: DeliveryLog) -> DeliveryLog:
        """Read the topic to its end: delivery records go ``into`` the log (unreadable ones are
        skipped), dead-letter markers are remembered for :meth:`dead_lettered`."""
        for key, raw in (await self.topic.read_all()).items():
            if key.startswith(_DEAD_PREFIX):
                self._dead_lettered.add(key)
                continue
            try:
                into.load(DeliveryRecord.model_validate_json(raw))
            except pydantic.ValidationError:
                _log.warning("skipping an unreadable delivery record")
        return into

    async def record(self, records: Iterable[DeliveryRecord]) -> None:
        """Store delivery records; returns once the broker has all of them."""
        await self.topic.put_many([(r.key, r.model_dump_json().encode()) for r in records])

    def dead_lettered(self, coord: Coord) -> bool:
        """Whether the unreadable alert message at ``coord`` was dead-lettered already."""
        return _dead_key(coord) in self._dead_lettered

    async def mark_dead_lettered(self, coord: Coord) -> None:
        """Remember (durably) that the message at ``coord`` went to the dead-letter topic."""
        key = _dead_key(coord)
        await self.topic.put(key, b"dead-lettered")
        self._dead_lettered.add(key)

    async def close(self) -> None:
        await self.topic.close()
