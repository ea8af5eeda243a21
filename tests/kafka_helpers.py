"""Helpers for tests that talk to a real Kafka broker (see the ``kafka_bootstrap`` fixture).

``create_topic`` is a coroutine (aiokafka's admin client); ``create_topic_sync`` wraps it for
synchronous tests. ``unique_topic`` keeps tests independent on a shared broker.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from glasswatch.commands.demo import load_local_kafka

__all__ = ["REPO_ROOT", "create_topic", "create_topic_sync", "load_local_kafka", "unique_topic"]

REPO_ROOT = Path(__file__).resolve().parent.parent
TOPIC_ALREADY_EXISTS = 36


def unique_topic(prefix: str = "test") -> str:
    """A topic name no other test uses: ``<prefix>-<8 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    *,
    replication: int = 1,
    configs: dict[str, str] | None = None,
    exist_ok: bool = False,
    timeout: float = 30.0,
) -> None:
    """Create ``name`` and wait until every partition has a leader.

    Raises ``RuntimeError`` with the broker's error code when creation fails
    (an existing topic is fine with ``exist_ok=True``).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication, topic_configs=configs or {})]
        )
        for topic, code, *rest in response.topic_errors:
            if code == TOPIC_ALREADY_EXISTS and exist_ok:
                continue
            if code != 0:
                message = rest[0] if rest else ""
                raise RuntimeError(f"creating topic {topic!r} failed: error {code} {message or ''}".rstrip())
        await _wait_for_leaders(admin, name, partitions, timeout)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, name: str, partitions: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        (topic,) = await admin.describe_topics([name])
        parts = topic["partitions"]
        if topic["error_code"] == 0 and len(parts) >= partitions and all(p["leader"] >= 0 for p in parts):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"topic {name!r} has no leader for every partition after {timeout}s: {topic}")
        await asyncio.sleep(0.1)


def create_topic_sync(bootstrap: str, name: str, partitions: int = 1, **kwargs: object) -> None:
    """``create_topic`` for synchronous tests (runs its own event loop)."""
    asyncio.run(create_topic(bootstrap, name, partitions, **kwargs))  # type: ignore[arg-type]
