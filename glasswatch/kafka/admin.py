"""Kafka administration: create the topics glasswatch uses, with the right settings."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from glasswatch.errors import BrokerError
from glasswatch.settings import Settings

__all__ = ["TopicSpec", "ensure_topics", "glasswatch_topics"]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int = 1
    config: dict[str, str] = field(default_factory=dict)


def glasswatch_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of the data flow, with retention suited to its role."""
    t, p, r = settings.topics, settings.kafka.partitions, settings.kafka.replication_factor
    week = str(7 * 24 * 3600 * 1000)
    return [
        TopicSpec(t.predictions, p, r, {"retention.ms": week}),
        TopicSpec(t.features, p, r, {"retention.ms": week}),
        TopicSpec(t.labels, p, r, {"retention.ms": week}),
        TopicSpec(t.dead_letters, p, r, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
        TopicSpec(t.windows, p, r, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
        TopicSpec(t.alerts, p, r, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
        TopicSpec(t.silences, 1, r, {"cleanup.policy": "compact"}),
    ]


async def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        await admin.close()
        raise BrokerError(
            f"cannot reach Kafka at {bootstrap} ({type(exc).__name__}); start one with "
            "'just kafka-up' or set GLASSWATCH_KAFKA__BOOTSTRAP"
        ) from exc
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config)
            for s in specs
            if s.name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was quicker
                await admin.create_topics(new)
        return [n.name for n in new]
    finally:
        await admin.close()
