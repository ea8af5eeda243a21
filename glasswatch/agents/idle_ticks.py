"""Idle ticks: event time moves on in an input partition that has gone quiet.

Windows close when event time passes their end, and event time only moves with events: a
partition whose producers stopped would hold its last windows open for ever, and an outage would
never show. Every ``idle_tick_s`` the worker (:func:`~glasswatch.agents.ingest.attach_ingest`)
writes a signed :class:`~glasswatch.schemas.events.Tick` into each assigned input partition that
has been idle for ``idle_after_s``; the ingest agent reads it back in order like any message.
"""

from __future__ import annotations

import time
from datetime import timedelta

from glasswatch.agents.ingest_metrics import IngestMetrics
from glasswatch.ingest.tick_auth import TICK_HEADER, TickAuth
from glasswatch.kafka.app import GlasswatchApp
from glasswatch.schemas.coords import partition_key
from glasswatch.schemas.events import Tick

__all__ = ["write_idle_ticks"]


async def write_idle_ticks(
    gw: GlasswatchApp, metrics: IngestMetrics, *, idle_after_s: float, tick_auth: TickAuth
) -> int:
    """Write a :class:`~glasswatch.schemas.events.Tick` into each assigned input partition that
    has had no data for ``idle_after_s``: event time continues from the partition's last event at
    wall-clock speed, less ``idle_after_s`` (so a producer that is merely slow is not made late).
    Ticks go through the log, so the agent — and any replay — sees them in order; each carries
    the worker's signature in the :data:`~glasswatch.ingest.tick_auth.TICK_HEADER` header
    (``tick_auth``). Returns the number written.

    Raises :class:`~glasswatch.errors.ConfigError` (from :meth:`GlasswatchApp.read_state`) for a
    partition state signed with another worker's key, before writing that partition's tick."""
    topics = set(gw.inputs.topics)
    now = time.monotonic()
    written = 0
    for tp in sorted(gw.app.consumer.assignment()):
        if tp.topic not in topics:
            continue
        key = partition_key(tp.topic, tp.partition)
        last = metrics.last_data.setdefault(key, now)  # after a restart: idle counts from now
        idle = now - last
        if idle <= idle_after_s:
            continue
        state = gw.read_state(key)
        if state is None or state.max_event_time is None:
            continue
        target = state.max_event_time + timedelta(seconds=idle - idle_after_s)
        if target <= metrics.last_tick.get(key, state.max_event_time):
            continue
        tick = Tick(event_time=target)
        headers = [(TICK_HEADER, tick_auth.sign(tp.topic, tp.partition, target))]
        await gw.app.producer.send_and_wait(
            tp.topic, None, tick.model_dump_json().encode(), tp.partition, None, headers
        )
        metrics.last_tick[key] = target
        metrics.ticks_sent += 1
        written += 1
    return written
