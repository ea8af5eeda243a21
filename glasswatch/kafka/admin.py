"""Kafka administration: create the topics glasswatch uses, with the right settings.

:func:`ensure_topics` is the one place that creates topics (the data-flow topics of
:func:`glasswatch_topics`, and the compacted stores of :mod:`glasswatch.kafka.compacted`).
:func:`refresh_metadata` is the one place that reaches into aiokafka's private attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from glasswatch.errors import BrokerError
from glasswatch.settings import Settings

__all__ = ["ACCEPTS_CONFIG", "COMPACT", "TopicSpec", "ensure_topics", "glasswatch_topics", "refresh_metadata"]

COMPACT = {"cleanup.policy": "compact"}
"""Topic config of a key → latest value store (silences, the router's delivery log)."""


ACCEPTS_CONFIG = {"cleanup.policy": "delete", "retention.ms": str(365 * 24 * 3600 * 1000)}
"""Topic config of the baseline-accepts log: every accept kept (a year), one partition."""


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
        TopicSpec(t.silences, 1, r, COMPACT),
        TopicSpec(t.deliveries, 1, r, COMPACT),
        TopicSpec(t.baseline_accepts, 1, r, ACCEPTS_CONFIG),
    ]


async def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are.

    Raises :class:`~glasswatch.errors.BrokerError` when Kafka cannot be reached or refuses."""
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
    except (KafkaError, OSError) as exc:
        names = ", ".join(s.name for s in specs)
        raise BrokerError(f"cannot create topics {names} at {bootstrap} ({type(exc).__name__})") from exc
    finally:
        await admin.close()


async def refresh_metadata(consumer: AIOKafkaConsumer) -> None:
    """Fetch the cluster metadata now, e.g. to see the partitions of a topic created a moment ago.

    aiokafka has no public call for this (``consumer.topics()`` fetches metadata into a throwaway
    object, leaving ``partitions_for_topic`` stale), so this reaches into the consumer's private
    ``_client`` (an ``AIOKafkaClient``) and awaits its ``force_metadata_update()``. It is the only
    use of aiokafka's private attributes in glasswatch; ``tests/unit/kafka/test_aiokafka_private.py``
    fails when an aiokafka release changes them.
    """
    await consumer._client.force_metadata_update()
