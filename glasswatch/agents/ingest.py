"""Ingest agent: raw bytes → validate → statistics and monitors; bad input → dead-letter topic.

Per batch of Kafka messages (``take_events``): group by source partition, skip offsets already
applied, decode each message (:func:`glasswatch.ingest.validate.decode`), update that partition's
:class:`~glasswatch.monitor.partition.PartitionState` (statistics, then the model monitors once per
batch), publish dead letters, alerts and closed-window summaries and *wait for their
acknowledgement*, then write the state (one table value per partition). Nothing here raises on
input: a failure of our own code is logged with the message coordinates and the message is
dead-lettered with reason ``invalid`` rather than crashing the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from glasswatch.ingest.validate import Limits, Reject, decode
from glasswatch.kafka.app import GlasswatchApp, encode_state
from glasswatch.kafka.context import event_context
from glasswatch.monitor.partition import PartitionState, SpecLookup, default_spec
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.dead_letter import DeadLetter
from glasswatch.schemas.events import Tick

__all__ = ["IngestMetrics", "attach_ingest", "process_batch"]

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IngestMetrics:
    """Process-local counters (exported on /metrics and /glasswatch/stats) and, per source
    partition, the monotonic time its last data arrived (for idle ticks)."""

    def __init__(self) -> None:
        self.last_data: dict[str, float] = {}
        self.last_tick: dict[str, datetime] = {}
        self.ticks_sent = 0
        self.messages = 0
        self.batches = 0
        self.skipped_replays = 0
        self.dead_letters = 0
        self.alerts = 0
        self.windows = 0
        self.busy_s = 0.0


async def process_batch(
    gw: GlasswatchApp,
    events: Sequence[Any],
    *,
    limits: Limits,
    clock: Clock = _utcnow,
    metrics: IngestMetrics | None = None,
    monitors: bool = True,
    spec_for: SpecLookup = default_spec,
    on_alert: Callable[[Alert], None] | None = None,
) -> int:
    """Process one batch of Kafka events; returns how many typed events were applied."""
    started = time.perf_counter()
    applied = 0
    now = clock()
    groups: dict[str, list[Any]] = defaultdict(list)
    for ev in events:
        groups[f"{ev.message.topic}:{ev.message.partition}"].append(ev)
    for key, evs in groups.items():
        state = gw.read_state(key) or PartitionState(
            topic=evs[0].message.topic, partition=evs[0].message.partition
        )
        letters: list[DeadLetter] = []
        changed = False
        saw_data = False
        for ev in evs:
            msg = ev.message
            if state.seen(msg.offset):
                if metrics:
                    metrics.skipped_replays += 1
                continue
            try:
                decoded = decode(ev.value, now=now, limits=limits)
                rejects = decoded.rejects
                good = decoded.events
                ticks = decoded.ticks
            except Exception as exc:  # a bug of ours must not stop the stream
                log.exception("ingest failed on %s@%s", key, msg.offset)
                rejects = [Reject("invalid", type(exc).__name__, f"internal error: {exc}")]
                good = []
                ticks = []
            state.apply(msg.offset, good, [r.reason for r in rejects], ticks)
            applied += len(good)
            changed = True
            saw_data = saw_data or bool(good)
            for r in rejects:
                letters.append(
                    DeadLetter.of(
                        raw=ev.value if isinstance(ev.value, bytes) else b"",
                        topic=msg.topic,
                        partition=msg.partition,
                        offset=msg.offset,
                        error_class=r.error_class,
                        reason=r.reason,
                        detail=r.detail,
                        index_in_batch=r.index,
                    )
                )
        if saw_data and metrics is not None:
            metrics.last_data[key] = time.monotonic()
        outbox: list[tuple[Any, bytes, bytes]] = []
        partition_alerts = state.take_alerts()  # dead-letter rate of this partition
        outbox.extend(_alert_records(gw, partition_alerts, on_alert))
        if metrics:
            metrics.alerts += len(partition_alerts)
        if changed and monitors:
            try:
                outputs = state.run_monitors(spec_for)
            except Exception:  # a monitor bug must not stop ingest; the statistics stay applied
                log.exception("monitors failed on %s up to offset %s", key, state.last_offset)
                state.pending.clear()
                outputs = []
            for model, out in outputs:
                outbox.extend(_alert_records(gw, out.alerts, on_alert))
                for window in out.windows:
                    for summary in window.summaries.values():
                        outbox.append((gw.windows, model.encode(), summary.model_dump_json().encode()))
                letters.extend(_late_letter(rec) for rec in out.late)
                if metrics:
                    metrics.alerts += len(out.alerts)
                    metrics.windows += len(out.windows)
        else:
            state.pending.clear()
        outbox.extend((gw.dead_letters, key.encode(), dl.model_dump_json().encode()) for dl in letters)
        if outbox:
            await _publish(outbox)
            if metrics:
                metrics.dead_letters += len(letters)
        if changed:
            with event_context(evs[-1]):
                gw.state[key] = encode_state(state)
    if metrics:
        metrics.messages += len(events)
        metrics.batches += 1
        metrics.busy_s += time.perf_counter() - started
    return applied


def _alert_records(
    gw: GlasswatchApp, alerts: list[Alert], on_alert: Callable[[Alert], None] | None
) -> list[tuple[Any, bytes, bytes]]:
    """Alerts as alerts-topic records, their links on this worker's pages; ``on_alert`` sees each."""
    records = []
    for raw_alert in alerts:
        alert = raw_alert.with_base_url(gw.settings.worker.base_url)
        records.append((gw.alerts, alert.fingerprint.encode(), alert.model_dump_json().encode()))
        if on_alert is not None:
            on_alert(alert)
    return records


def _late_letter(rec: Located) -> DeadLetter:
    return DeadLetter.of(
        raw=rec.event.model_dump_json().encode(),
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        error_class="LateEvent",
        reason="late",
        detail=f"event_time {rec.event.event_time.isoformat()} is behind the watermark "
        "by more than the allowed lateness",
    )


async def _publish(outbox: list[tuple[Any, bytes, bytes]]) -> None:
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


async def write_idle_ticks(gw: GlasswatchApp, metrics: IngestMetrics, *, idle_after_s: float) -> int:
    """Write a :class:`~glasswatch.schemas.events.Tick` into each assigned input partition that
    has had no data for ``idle_after_s``: event time continues from the partition's last event at
    wall-clock speed, less ``idle_after_s`` (so a producer that is merely slow is not made late).
    Ticks go through the log, so the agent — and any replay — sees them in order. Returns the
    number written."""
    topics = set(gw.inputs.topics)
    now = time.monotonic()
    written = 0
    for tp in sorted(gw.app.consumer.assignment()):
        if tp.topic not in topics:
            continue
        key = f"{tp.topic}:{tp.partition}"
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
        await gw.app.producer.send_and_wait(
            tp.topic, None, tick.model_dump_json().encode(), tp.partition, None, None
        )
        metrics.last_tick[key] = target
        metrics.ticks_sent += 1
        written += 1
    return written


def attach_ingest(
    gw: GlasswatchApp,
    *,
    batch_size: int = 2000,
    linger_s: float = 0.25,
    clock: Clock = _utcnow,
    metrics: IngestMetrics | None = None,
    monitors: bool = True,
    spec_for: SpecLookup = default_spec,
    on_alert: Callable[[Alert], None] | None = None,
) -> Any:
    """Register the ingest agent on ``gw.app`` and return it."""
    v = gw.settings.validation
    limits = Limits(v.max_message_bytes, v.max_clock_skew_s, v.max_age_s)

    async def ingest(stream: Any) -> None:
        async for events in stream.take_events(batch_size, within=linger_s):
            await process_batch(
                gw,
                events,
                limits=limits,
                clock=clock,
                metrics=metrics,
                monitors=monitors,
                spec_for=spec_for,
                on_alert=on_alert,
            )

    agent = gw.app.agent(gw.inputs, name="glasswatch.ingest")(ingest)
    w = gw.settings.worker
    if monitors and w.idle_tick_s > 0:
        tick_metrics = metrics if metrics is not None else IngestMetrics()

        async def idle_ticks() -> None:
            try:
                await write_idle_ticks(gw, tick_metrics, idle_after_s=w.idle_after_s)
            except Exception:  # a failed tick is retried at the next interval; never stop the worker
                log.exception("writing idle ticks failed")

        gw.app.timer(interval=w.idle_tick_s, name="glasswatch.idle_ticks")(idle_ticks)
    return agent
