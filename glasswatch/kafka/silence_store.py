"""Silences kept durably in the compacted silences topic, keyed by silence id.

Expiring a silence writes it again with ``ends_at=now`` (the history stays readable until
compaction; the latest version is what counts). :class:`SilenceStore` writes and lists them (the
``silences`` commands); :class:`SilenceFeed` follows the topic for the router.
"""

from __future__ import annotations

import logging
from datetime import datetime

import pydantic

from glasswatch.alerting.silence import Silence, Silences
from glasswatch.errors import ConfigError
from glasswatch.kafka.compacted import CompactedTopic
from glasswatch.kafka.follow import TopicFollower

__all__ = ["SilenceFeed", "SilenceStore"]

_log = logging.getLogger(__name__)


class SilenceStore:
    def __init__(self, topic: CompactedTopic) -> None:
        self.topic = topic

    async def put(self, silence: Silence) -> None:
        await self.topic.put(silence.id, silence.model_dump_json().encode())

    async def load(self) -> Silences:
        """Every silence in the topic (unreadable records are skipped)."""
        found = Silences()
        for raw in (await self.topic.read_all()).values():
            try:
                found.update(Silence.model_validate_json(raw))
            except pydantic.ValidationError:
                continue
        return found

    async def expire(self, silence_id: str, now: datetime) -> Silence:
        """End ``silence_id`` at ``now``; :class:`ConfigError` when there is no such silence."""
        current = (await self.load()).get(silence_id)
        if current is None:
            raise ConfigError(f"no silence with id {silence_id!r}")
        expired = current.expired(now)
        await self.put(expired)
        return expired

    async def close(self) -> None:
        await self.topic.close()


class SilenceFeed:
    """Follows the silences topic from its beginning (group-less: every router sees every silence)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.follower = TopicFollower(bootstrap, topic)

    async def start(self) -> None:
        """Create the topic if needed and position at its beginning (Kafka errors propagate)."""
        await self.follower.start()

    async def poll(self, into: Silences) -> Silences:
        """Add what was written since the last poll ``into`` the silences (without waiting)."""
        for rec in await self.follower.poll():
            if rec.value is None:
                continue
            try:
                into.update(Silence.model_validate_json(rec.value))
            except pydantic.ValidationError:
                _log.warning("skipping an unreadable silence at offset %d", rec.offset)
        return into

    async def close(self) -> None:
        await self.follower.close()
