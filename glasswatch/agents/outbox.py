"""The ingest agent's outbox: what a batch sends, and sending it until the broker has it.

A batch's outputs — dead letters, alerts and closed-window summaries — are collected as
:data:`Record`\\ s (channel, key, value) and sent together by :func:`publish`, which returns only
once the broker acknowledged every one. The agent writes a partition's state (and so lets its
consumer offset move) only after that: nothing is lost, at worst re-sent (same ids) after a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from glasswatch.kafka.alert_publisher import alert_record
from glasswatch.kafka.app import GlasswatchApp
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.dead_letter import DeadLetter

__all__ = ["Record", "alert_records", "late_letter", "publish"]

log = logging.getLogger(__name__)

Record = tuple[Any, bytes, bytes]
"""One output: the Faust channel (topic) it goes to, its key and its value."""


def alert_records(
    gw: GlasswatchApp, alerts: list[Alert], on_alert: Callable[[Alert], None] | None
) -> list[Record]:
    """Alerts as alerts-topic records, their links on this worker's pages; ``on_alert`` sees each."""
    records = []
    for raw_alert in alerts:
        alert = raw_alert.with_base_url(gw.settings.worker.base_url)
        records.append((gw.alerts, *alert_record(alert)))
        if on_alert is not None:
            on_alert(alert)
    return records


def late_letter(rec: Located) -> DeadLetter:
    """The dead letter (reason ``late``) of an event whose windows had all closed."""
    return DeadLetter.of(
        raw=rec.event.model_dump_json().encode(),
        topic=rec.coord.topic,
        partition=rec.coord.partition,
        offset=rec.coord.offset,
        error_class="LateEvent",
        reason="late",
        detail=f"event_time {rec.event.event_time.isoformat()} is behind the watermark "
        "by more than the allowed lateness",
    )


async def publish(outbox: list[Record]) -> None:
    """Send dead letters, alerts and window summaries; wait for the broker's acknowledgement.

    Retries broker outages without end. The state (and so the consumer offset) does not move past
    a batch until its outputs are stored: nothing is lost, at worst re-sent (same ids) after a crash.
    """
    delay = 0.5
    while True:
        try:
            pending = [await channel.send(key=k, value=v) for channel, k, v in outbox]
            await asyncio.gather(*pending)
            return
        except Exception as exc:  # broker down, timeouts: keep trying, loudly
            log.warning("publish failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
