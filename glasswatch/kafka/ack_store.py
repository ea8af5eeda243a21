"""Acknowledgements kept durably in the compacted acks topic, keyed by alert fingerprint.

:class:`AckStore` writes and reads them (``glasswatch alerts ack``, the dashboard's ack button,
the dashboard's view at start); :class:`AckFeed` follows the topic for the router, as
:class:`~glasswatch.kafka.silence_store.SilenceFeed` does for silences. A record that is not a
valid :class:`~glasswatch.schemas.ack.AlertAck` (anyone may write the topic) is skipped and
logged, never fatal.
"""

from __future__ import annotations

import logging

import pydantic

from glasswatch.kafka.compacted import CompactedTopic
from glasswatch.kafka.follow import TopicFollower
from glasswatch.schemas.ack import AlertAck

__all__ = ["AckFeed", "AckStore", "parse_ack"]

_log = logging.getLogger(__name__)


def parse_ack(raw: bytes | None) -> AlertAck | None:
    """The ack in a record value, or None for a tombstone or an unreadable record."""
    if raw is None:
        return None
    try:
        return AlertAck.model_validate_json(raw)
    except pydantic.ValidationError:
        return None


class AckStore:
    """Latest ack per fingerprint on ``topic``."""

    def __init__(self, topic: CompactedTopic) -> None:
        self.topic = topic

    @classmethod
    def connect(cls, bootstrap: str, topic: str) -> AckStore:
        return cls(CompactedTopic(bootstrap, topic))

    async def put(self, ack: AlertAck) -> None:
        """Store ``ack``; returns once the broker has it (``acks=all``)."""
        await self.topic.put(ack.fingerprint, ack.model_dump_json().encode())

    async def load(self) -> dict[str, AlertAck]:
        """Every readable ack in the topic, by fingerprint."""
        found: dict[str, AlertAck] = {}
        for key, raw in (await self.topic.read_all()).items():
            ack = parse_ack(raw)
            if ack is not None and ack.fingerprint == key:
                found[key] = ack
        return found

    async def close(self) -> None:
        await self.topic.close()


class AckFeed:
    """Follows the acks topic from its beginning (group-less: every reader sees every ack)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.follower = TopicFollower(bootstrap, topic)

    async def start(self) -> None:
        """Create the topic if needed and position at its beginning (Kafka errors propagate)."""
        await self.follower.start()

    async def poll(self) -> list[AlertAck]:
        """The acks written since the last poll (without waiting), in topic order."""
        out: list[AlertAck] = []
        for rec in await self.follower.poll():
            ack = parse_ack(rec.value)
            if ack is None:
                if rec.value is not None:
                    _log.warning("skipping an unreadable ack at offset %d", rec.offset)
                continue
            out.append(ack)
        return out

    async def close(self) -> None:
        await self.follower.close()
