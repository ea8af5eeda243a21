"""The label join: predictions and labels → performance and concept drift alerts.

A step of the ingest agent's batch (:class:`LabelStep`, passed to
:func:`~glasswatch.agents.ingest.attach_ingest` as ``then``; why not an agent of its own: see
there). It reads the messages of the predictions and labels topics (raw bytes, decoded with
:func:`glasswatch.ingest.validate.decode` under the ingest limits; what ingest dead-letters is
skipped here), joins labels to predictions by ``prediction_id``
(:class:`~glasswatch.drift.labels.LabelJoin` over the ``label-join`` table,
:mod:`glasswatch.kafka.pending_store`) and feeds each labelled prediction to the
:class:`~glasswatch.drift.performance.PerformanceMonitor` of its model version, whose alerts go
to the alerts topic (:func:`~glasswatch.kafka.alert_publisher.alert_record`).

Exactly-once in effect, as ingest: per table partition one state value holds the last applied
offset of each source partition (predictions:p, labels:p), the join's counters, the monitors and
the expiry index; per batch the records are written first, then the alerts are published and
acknowledged, then the state. A re-delivered offset is skipped; an event whose record write
survived a SIGKILL while the state did not is recognised by the offset kept in the record.
Alerts are stamped with event times, so one re-sent after a crash has the same id. The
agent's settings and counters are :mod:`glasswatch.agents.label_pipeline`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError

from glasswatch.agents.label_pipeline import (
    LabelMetrics,
    LabelPipeline,
    RegisteredLookup,
    partition_summary,
)
from glasswatch.drift.labels import LabelJoin
from glasswatch.drift.performance import PerformanceConfig, PerformanceMonitor
from glasswatch.drift.verdict import VerdictBook, parse_verdict
from glasswatch.errors import BrokerError, StateRefused
from glasswatch.ingest.tick_auth import TickAuth
from glasswatch.ingest.validate import Limits, decode
from glasswatch.kafka.alert_publisher import alert_record
from glasswatch.kafka.app import GlasswatchApp
from glasswatch.kafka.context import event_context
from glasswatch.kafka.follow import TopicFollower
from glasswatch.kafka.gaps import GapFiller
from glasswatch.kafka.pending_store import IndexState, TablePendingStore, meta_key, pending_table
from glasswatch.kafka.state_codec import load_state_key
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.coords import partition_key
from glasswatch.schemas.events import LabelEvent, PredictionEvent, Tick

__all__ = ["LabelStep", "attach_labels", "follow_into", "process_label_batch"]

log = logging.getLogger(__name__)

_ITEM_BITS = 14  # events of one message: offset << 14 | index (a batch holds at most 10,000)


async def process_label_batch(gw: GlasswatchApp, join: LabelPipeline, events: Sequence[Any]) -> int:
    """Apply one batch of Kafka events (predictions and labels topics); returns events joined."""
    started = time.perf_counter()
    groups: dict[int, list[Any]] = defaultdict(list)
    for ev in events:
        groups[ev.message.partition].append(ev)
    joined = 0
    for partition, evs in groups.items():
        joined += await _apply_partition(gw, join, partition, evs)
    join.metrics.messages += len(events)
    join.metrics.batches += 1
    join.metrics.busy_s += time.perf_counter() - started
    return joined


def _read_meta(gw: GlasswatchApp, join: LabelPipeline, partition: int) -> dict[str, Any]:
    value = join.table.get(meta_key(partition))
    if value:
        try:
            return gw.codec.decode(bytes(value), dict)
        except StateRefused as exc:
            log.error(
                "label-join state of partition %s refused (%s): starting it empty", partition, exc.reason
            )
    return join.fresh()


async def _apply_partition(gw: GlasswatchApp, join: LabelPipeline, partition: int, evs: list[Any]) -> int:
    last = evs[-1]
    now = join.clock()
    alerts: list[Alert] = []
    before = 0
    with event_context(last):  # reads and writes of this partition's local store and changelog
        meta = _read_meta(gw, join, partition)
        store = TablePendingStore(join.table, partition, IndexState.from_dict(meta["index"]))
        lj: LabelJoin = meta["join"].bind(store)
        before = lj.joined
        if join.gaps is not None:  # what a rebalance made the consumer skip (kafka/gaps.py)
            offsets = meta["offsets"]
            evs = await join.gaps.fill_batch(evs, lambda t, p: int(offsets.get(partition_key(t, p), -1)))
            join.metrics.recovered = join.gaps.recovered
        for ev in evs:
            msg = ev.message
            src = partition_key(msg.topic, msg.partition)
            if msg.offset <= meta["offsets"].get(src, -1):
                join.metrics.skipped_replays += 1
                continue
            for i, event in enumerate(_decode(join, ev, now)):
                lj.update(event, offset=(msg.offset << _ITEM_BITS) | i)
                pair = lj.last_join
                if pair is None:
                    continue
                key = f"{pair.model}\x1f{pair.model_version}"
                mon = meta["monitors"].get(key)
                if mon is None:
                    registered = await join.lookup(pair.model, pair.model_version)
                    mon = PerformanceMonitor(pair.model, pair.model_version, registered=registered,
                                             config=join.config_for(pair.model))  # fmt: skip
                    meta["monitors"][key] = mon
                drifted = join.verdicts.inputs_drifted(pair.model, pair.model_version)
                alerts.extend(mon.update(pair, inputs_drifted=drifted).take_alerts())
            meta["offsets"][src] = msg.offset
        store.flush()
    meta["index"] = store.index.to_dict()
    if alerts:
        await _publish(gw, alerts, join.on_alert)
        join.metrics.alerts += len(alerts)
    with event_context(last):
        join.table[meta_key(partition)] = gw.codec.encode(meta)
    join.metrics.partitions[partition] = partition_summary(meta)
    return lj.joined - before


def _decode(join: LabelPipeline, ev: Any, now: datetime) -> list[PredictionEvent | LabelEvent | Tick]:
    msg = ev.message
    raw = ev.value if isinstance(ev.value, bytes) else None
    headers = getattr(msg, "headers", None)

    def tick_check(tick: Tick) -> bool:
        auth = join.tick_auth
        return auth is not None and auth.verify(msg.topic, msg.partition, tick.event_time, headers)

    try:
        decoded = decode(raw, now=now, limits=join.limits, tick_check=tick_check)
    except Exception:  # a bug of ours: ingest dead-letters the message; here it is skipped
        log.exception("decoding %s[%s]@%s failed", msg.topic, msg.partition, msg.offset)
        join.metrics.errors += 1
        return []
    good = [e for e in decoded.events if isinstance(e, (PredictionEvent, LabelEvent))]
    return [*good, *(Tick(event_time=t) for t in decoded.ticks)]


async def _publish(gw: GlasswatchApp, alerts: list[Alert], on_alert: Callable[[Alert], None] | None) -> None:
    """Send the alerts and wait for the broker's acknowledgement (retrying outages without end)."""
    records = []
    for raw_alert in alerts:
        alert = raw_alert.with_base_url(gw.settings.worker.base_url)
        records.append(alert_record(alert))
        if on_alert is not None:
            on_alert(alert)
    delay = 0.5
    while True:
        try:
            pending = [await gw.alerts.send(key=k, value=v) for k, v in records]
            await asyncio.gather(*pending)
            return
        except Exception as exc:  # broker down, timeouts: keep trying, loudly
            log.warning(
                "publishing alerts failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def follow_into(feed: TopicFollower, book: VerdictBook) -> int:
    """Add the verdicts written since the last call to ``book`` (starting ``feed`` on first use;
    a broker error is logged and retried at the next call); returns how many were read."""
    try:
        if not feed.started:
            await feed.start()
        records = await feed.poll()
    except (KafkaError, OSError, TimeoutError, BrokerError) as exc:
        log.warning("drift verdicts of %s unavailable (%s): inputs_drifted stays as it was", feed.topic, exc)
        await feed.close()
        return 0
    n = 0
    for rec in records:
        verdict = parse_verdict(rec.value)
        if verdict is None or rec.key != verdict.key.encode():  # anyone may write the topic
            continue
        book.update(verdict)
        n += 1
    return n


def _utcnow() -> datetime:
    return datetime.now(UTC)


def attach_labels(
    gw: GlasswatchApp,
    *,
    ttl_s: float = 2 * 86400.0,
    grace_s: float = 3600.0,
    sweep_limit: int = 64,
    config_for: Callable[[str], PerformanceConfig] | None = None,
    registered: RegisteredLookup | None = None,
    metrics: LabelMetrics | None = None,
    on_alert: Callable[[Alert], None] | None = None,
    clock: Callable[[], datetime] = _utcnow,
    tick_auth: TickAuth | None = None,
    page: bool = True,
    verdicts_poll_s: float = 5.0,
) -> LabelStep:
    """Build the label join (its ``label-join`` table, the drift-verdicts timer and, with ``page``,
    the ``/glasswatch/labels/`` page) on ``gw.app``; returns the step for the ingest agent.

    ``config_for(model)``: how that model's performance is judged (default
    :class:`PerformanceConfig`); ``registered``: the registered metrics of a version (MLflow),
    else each version is compared with its first window."""
    s = gw.settings
    v = s.validation
    table = pending_table(gw.app, s.kafka.partitions)
    stats = metrics if metrics is not None else LabelMetrics()
    join = LabelPipeline(
        table,
        limits=Limits(v.max_message_bytes, v.max_clock_skew_s, v.max_age_s),
        ttl_s=ttl_s, grace_s=grace_s, sweep_limit=sweep_limit,
        config_for=config_for or (lambda _model: PerformanceConfig()),
        registered=registered,
        tick_auth=tick_auth or TickAuth(load_state_key(s.worker)),
        metrics=stats, on_alert=on_alert, clock=clock,
        gaps=GapFiller(s.kafka.bootstrap), verdicts=VerdictBook(),
    )  # fmt: skip
    feed = TopicFollower(s.kafka.bootstrap, s.topics.drift_verdicts)

    async def follow_verdicts() -> None:  # the drift process's verdicts → inputs_drifted
        await follow_into(feed, join.verdicts)
        stats.verdicts = len(join.verdicts)

    gw.app.timer(interval=verdicts_poll_s, name="glasswatch.drift_verdicts")(follow_verdicts)

    if page:

        @gw.app.page("/glasswatch/labels/")
        async def labels_view(web: Any, request: Any) -> Any:
            return web.json(stats.snapshot())

    return LabelStep(gw, join, topics=(s.topics.predictions, s.topics.labels))


class LabelStep:
    """The label join as a step of the ingest agent's batch (``attach_ingest(..., then=step)``).

    Why not an agent of its own on the predictions and labels topics: two Faust agents on one
    topic share each message (reference-counted acks), and under rebalance that broke twice in
    the consumer-group fault run — the commit jumped past a message one agent never applied (see
    :mod:`glasswatch.kafka.gaps`), and a worker waited forever in ``wait_empty`` for a message
    one agent had acked and the other never would (1 of 6 runs). One agent per topic has
    neither failure. The join keeps its own state and offsets (its table), so exactly-once holds
    as before; a batch the join fails on is logged and counted (``errors``), the ingest goes on,
    and the next batch reads the skipped messages back through the gap filler."""

    def __init__(self, gw: GlasswatchApp, join: LabelPipeline, *, topics: tuple[str, ...]) -> None:
        self.gw, self.join, self.topics = gw, join, frozenset(topics)

    async def __call__(self, events: Sequence[Any]) -> int:
        mine = [ev for ev in events if ev.message.topic in self.topics]
        if not mine:
            return 0
        try:
            return await process_label_batch(self.gw, self.join, mine)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug of ours must not stop ingest; the join's offsets stay behind
            log.exception("label join failed on a batch of %d messages", len(mine))
            self.join.metrics.errors += 1
            return 0
