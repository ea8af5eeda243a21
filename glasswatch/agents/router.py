"""The router process: alerts topic → :class:`~glasswatch.alerting.dispatcher.Dispatcher` → receivers.

Why a plain aiokafka consumer and not a Faust agent: the guarantee we need is "an alert's offset
is committed only after every receiver accepted it or refused it for good", and alerts wait in
aggregation groups (``group_wait``) and in retries for minutes to hours. Faust commits offsets
when its agent has processed an event (acks), so holding an offset open across a group flush or
an hour of retries would fight the framework. A consumer with ``enable_auto_commit=False`` that
commits :meth:`Dispatcher.committable` (the lowest offset still owed per partition) says exactly
what we mean. The ingest side (``glasswatch/streams``) stays on Faust.

Delivery log: a compacted Kafka topic (``<alerts topic>.deliveries`` by default — ``TopicSettings``
has no field for it yet) keyed ``receiver|fingerprint|status``; each value is a
:class:`~glasswatch.alerting.dedup.DeliveryRecord` (episode ``starts_at``, time, outcome; no secrets).
Kafka rather than a local sqlite file because the router then keeps no disk state: it can be
restarted on any host and still re-pages no one; compaction keeps one record per key.

Per loop iteration: poll alerts (and silences) → ``ingest`` → ``ready(now)`` starts at most one
delivery per receiver, each in a thread (the SDKs are blocking) that may outlive the iteration →
every finished attempt is handed to the dispatcher and its delivery records (``acks=all``) and
dead letters are **persisted at once** → **then** the offsets the dispatcher allows are committed.
A crash between a receiver's answer and that persist (milliseconds) re-sends that one
notification after restart (at-least-once at that single point; PagerDuty dedups by
``dedup_key``); a crash at any other point sends nothing twice. A slow receiver delays nobody
else: its attempt stays in flight while the loop keeps polling and settling the others.

A restart re-reads uncommitted alerts; the delivery log filters what was
delivered. Permanent refusals go to the dead-letter topic with reason ``rejected_by_receiver``
and redacted detail. One router per consumer group is the intended deployment: on a rebalance,
alerts of a revoked partition that were still in groups may be delivered by both owners.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pydantic
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from glasswatch.alerting.dedup import DeliveryRecord
from glasswatch.alerting.dispatcher import Delivery, Dispatcher, Settled
from glasswatch.alerting.notify.base import MessageRef, Notifier
from glasswatch.alerting.silence import Silence
from glasswatch.errors import BrokerError, NotifyError
from glasswatch.kafka.compacted import CompactedTopic, ensure_compacted_topic, topic_partitions
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.dead_letter import DeadLetter

__all__ = ["RouterRuntime", "deliveries_topic_for"]

log = logging.getLogger(__name__)


_DEAD_PREFIX = "dead-letter|"
"""Delivery-log keys of unreadable alert messages already dead-lettered (no duplicates on restart)."""
_BUSY_POLL = 0.05
"""Poll timeout (s) while deliveries are in flight, so finished ones are recorded promptly."""


def deliveries_topic_for(alerts_topic: str) -> str:
    """Default name of the delivery-log topic."""
    return f"{alerts_topic}.deliveries"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RouterRuntime:
    """Runs a dispatcher against Kafka and real notifiers; see the module docstring."""

    def __init__(
        self,
        *,
        bootstrap: str,
        alerts_topic: str,
        dead_letter_topic: str,
        dispatcher: Dispatcher,
        notifiers: Mapping[str, Notifier],
        group_id: str = "glasswatch-router",
        deliveries_topic: str | None = None,
        silences_topic: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
        poll_timeout: float = 1.0,
        redact: Callable[[object], str] = str,
        max_backlog: int = 10_000,
    ) -> None:
        self.bootstrap = bootstrap
        self.alerts_topic = alerts_topic
        self.dead_letter_topic = dead_letter_topic
        self.dispatcher = dispatcher
        self.notifiers = dict(notifiers)
        self.group_id = group_id
        self.deliveries = CompactedTopic(bootstrap, deliveries_topic or deliveries_topic_for(alerts_topic))
        self.silences_topic = silences_topic
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.redact = redact
        self._consumer: AIOKafkaConsumer | None = None
        self._silence_consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._committed: dict[tuple[str, int], int] = {}
        self._inflight: dict[int, tuple[Delivery, asyncio.Task[NotifyError | None]]] = {}
        self._dead_lettered: set[str] = set()
        self.max_backlog = max_backlog
        """Pause consuming while this many notifications wait (a long outage must not eat memory)."""
        self._paused = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Load the delivery log and silences, then join the consumer group."""
        for key, raw in (await self.deliveries.read_all()).items():
            if key.startswith(_DEAD_PREFIX):
                self._dead_lettered.add(key)
                continue
            try:
                self.dispatcher.log.load(DeliveryRecord.model_validate_json(raw))
            except pydantic.ValidationError:
                log.warning("skipping an unreadable delivery record")
        log.info("router: %d delivery records loaded", len(self.dispatcher.log))
        try:
            if self.silences_topic:
                await ensure_compacted_topic(self.bootstrap, self.silences_topic)
                self._silence_consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
                )
                await self._silence_consumer.start()
                parts = await topic_partitions(self._silence_consumer, self.silences_topic)
                self._silence_consumer.assign(parts)
                await self._silence_consumer.seek_to_beginning(*parts)
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await self._producer.start()
            self._consumer = AIOKafkaConsumer(
                self.alerts_topic,
                bootstrap_servers=self.bootstrap,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await self._consumer.start()
        except (KafkaError, OSError) as exc:
            await self.close()
            raise BrokerError(
                f"router cannot reach Kafka at {self.bootstrap} ({type(exc).__name__})"
            ) from exc

    async def close(self, drain_timeout: float = 15.0) -> None:
        """Let in-flight deliveries finish and record them (up to ``drain_timeout``), then leave the
        group and stop clients. Offsets were committed as they settled; nothing else is committed."""
        if self._inflight and self._producer is not None:
            await asyncio.wait([t for _, t in self._inflight.values()], timeout=drain_timeout)
            await self._settle_finished()
            await self._commit()
        for _, task in self._inflight.values():
            task.cancel()
        self._inflight.clear()
        for client in (self._consumer, self._silence_consumer, self._producer):
            if client is not None:
                await client.stop()
        self._consumer = self._silence_consumer = self._producer = None
        await self.deliveries.close()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start, loop until ``stop`` is set (or the task is cancelled), close."""
        stop = stop or asyncio.Event()
        await self.start()
        graceful = False
        try:
            while not stop.is_set():
                await self.run_once()
            graceful = True
        finally:
            await self.close(drain_timeout=15.0 if graceful else 0.0)

    # -- one iteration -------------------------------------------------------------------
    async def run_once(self) -> int:
        """Poll, start due deliveries, settle finished ones, commit. Returns messages consumed."""
        assert self._consumer is not None, "call start() first"
        consumed = await self._poll()
        await self._refresh_silences()
        await self._settle_finished()
        for delivery in self.dispatcher.ready(self.clock()):
            self._inflight[delivery.id] = (delivery, asyncio.create_task(self._attempt(delivery)))
        await self._settle_finished()
        await self._commit()
        return consumed

    @property
    def in_flight(self) -> int:
        """Deliveries being attempted right now (at most one per receiver)."""
        return len(self._inflight)

    async def _settle_finished(self) -> None:
        """Record each finished attempt at once, so a slow receiver never delays another's record."""
        for key, (delivery, task) in list(self._inflight.items()):
            if not task.done():
                continue
            del self._inflight[key]
            error = task.result()
            now = self.clock()
            if error is None:
                settled = self.dispatcher.succeeded(delivery, now)
                log.info(
                    "delivered %d alert(s) to %s",
                    len(delivery.notification.alerts),
                    delivery.notification.receiver,
                )
            else:
                settled = self.dispatcher.failed(delivery, error, now)
                self._log_failure(delivery, error, settled)
            await self._persist(settled)

    async def _poll(self) -> int:
        assert self._consumer is not None
        now = self.clock()
        wake = self.dispatcher.next_wakeup()
        timeout = (
            self.poll_timeout
            if wake is None
            else min(self.poll_timeout, max((wake - now).total_seconds(), 0))
        )
        self._backpressure()
        batch = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=500)
        count = 0
        for tp, records in batch.items():
            for rec in records:
                count += 1
                ref = MessageRef(topic=tp.topic, partition=tp.partition, offset=rec.offset)
                try:
                    alert = Alert.model_validate_json(rec.value or b"")
                except pydantic.ValidationError as exc:
                    key = f"{_DEAD_PREFIX}{tp.topic}|{tp.partition}|{rec.offset}"
                    if key in self._dead_lettered:  # already dead-lettered before a restart
                        self.dispatcher.skip(ref)
                        continue
                    not_json = any(e["type"] == "json_invalid" for e in exc.errors())
                    await self._dead_letter(
                        DeadLetter.of(
                            raw=rec.value or b"",
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=rec.offset,
                            error_class="ValidationError",
                            reason="not_json" if not_json else "invalid",
                            detail=self.redact(
                                f"not an Alert: {exc.error_count()} error(s), first: {exc.errors()[0]['msg']}"
                            ),
                        )
                    )
                    await self.deliveries.put(key, b"dead-lettered")
                    self._dead_lettered.add(key)
                    self.dispatcher.skip(ref)
                    continue
                self.dispatcher.ingest(alert, self.clock(), ref)
        return count

    def _backpressure(self) -> None:
        """Pause the alert partitions while the backlog is full; resume below half (keeps heartbeats)."""
        assert self._consumer is not None
        backlog = self.dispatcher.backlog
        if not self._paused and backlog >= self.max_backlog:
            self._consumer.pause(*self._consumer.assignment())
            self._paused = True
            log.warning("router: %d notifications waiting; pausing consumption", backlog)
        elif self._paused and backlog < self.max_backlog // 2:
            self._consumer.resume(*self._consumer.assignment())
            self._paused = False
            log.info("router: backlog down to %d; resuming consumption", backlog)

    async def _refresh_silences(self) -> None:
        if self._silence_consumer is None:
            return
        batch = await self._silence_consumer.getmany(timeout_ms=0)
        for records in batch.values():
            for rec in records:
                if rec.value is None:
                    continue
                try:
                    self.dispatcher.silences.update(Silence.model_validate_json(rec.value))
                except pydantic.ValidationError:
                    log.warning("skipping an unreadable silence at offset %d", rec.offset)

    async def _attempt(self, delivery: Delivery) -> NotifyError | None:
        notifier = self.notifiers.get(delivery.notification.receiver)
        if notifier is None:
            return NotifyError(f"no notifier for receiver {delivery.notification.receiver}", retryable=False)
        try:
            await asyncio.to_thread(notifier.send, delivery.notification)
        except NotifyError as exc:
            return exc
        except Exception as exc:  # a notifier bug must not lose the alert: retry it
            return NotifyError(
                self.redact(f"{notifier.name}: unexpected {type(exc).__name__}: {exc}"), retryable=True
            )
        return None

    def _log_failure(self, delivery: Delivery, error: NotifyError, settled: Settled) -> None:
        what = self.redact(error)
        if settled.retry_at is not None:
            log.warning(
                "delivery to %s failed (attempt %d): %s; retrying at %s",
                delivery.notification.receiver,
                delivery.attempt,
                what,
                settled.retry_at.isoformat(),
            )
        else:
            log.error(
                "delivery to %s refused for good: %s; %d dead letter(s)",
                delivery.notification.receiver,
                what,
                len(settled.dead_letters),
            )

    async def _persist(self, settled: Settled) -> None:
        await self.deliveries.put_many([(r.key, r.model_dump_json().encode()) for r in settled.records])
        for dead in settled.dead_letters:
            await self._dead_letter(dead)

    async def _dead_letter(self, dead: DeadLetter) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(self.dead_letter_topic, value=dead.model_dump_json().encode())

    async def _commit(self) -> None:
        assert self._consumer is not None
        due = {
            tp: off for tp, off in self.dispatcher.committable().items() if off > self._committed.get(tp, -1)
        }
        if not due:
            return
        try:
            await self._consumer.commit({TopicPartition(t, p): off for (t, p), off in due.items()})
        except (CommitFailedError, KafkaError) as exc:
            log.warning("offset commit failed (%s); will retry", type(exc).__name__)
            return
        self._committed.update(due)
