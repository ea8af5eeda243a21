"""The router process: alerts topic → :class:`~glasswatch.alerting.dispatcher.Dispatcher` → receivers.

Why a plain aiokafka consumer and not a Faust agent: the guarantee we need is "an alert's offset
is committed only after every receiver accepted it or refused it for good", and alerts wait in
aggregation groups (``group_wait``) and in retries for minutes to hours. Faust commits offsets
when its agent has processed an event (acks), so holding an offset open across a group flush or
an hour of retries would fight the framework. A consumer with ``enable_auto_commit=False`` that
commits :meth:`Dispatcher.committable` (the lowest offset still owed per partition) says exactly
what we mean. The ingest agent (:mod:`glasswatch.agents.ingest`) stays on Faust.

The delivery log lives in a compacted topic (``TopicSettings.deliveries``, read and written by
:class:`~glasswatch.kafka.delivery_store.DeliveryStore`); deliveries are recorded under the
delivering notifier's ``name`` (:attr:`Dispatcher.delivered_as`; a log fallback is its own
receiver). Silences, acks and the router's own state (Slack threads, firing alerts for
inhibition) are the side topics of :mod:`glasswatch.agents.router_state`; the state is written
before offsets are committed. A notification carrying an ack goes to the notifier's
``acknowledge`` (PagerDuty ``acknowledge`` event, Slack thread reply); a notifier without one
has nothing to tell and the ack counts as delivered.

Per loop iteration: poll alerts (and silences, acks) → ``ingest`` → ``ready(now)`` starts at most one
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
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pydantic
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from glasswatch.agents.router_state import RouterSideTopics
from glasswatch.alerting.dispatcher import Delivery, Dispatcher, Settled
from glasswatch.alerting.notify.base import Acknowledger, Notifier
from glasswatch.errors import BrokerError, NotifyError
from glasswatch.kafka.compacted import CompactedTopic
from glasswatch.kafka.delivery_store import DeliveryStore
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.dead_letter import DeadLetter

__all__ = ["RouterRuntime"]

log = logging.getLogger(__name__)


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
        deliveries_topic: str,
        group_id: str = "glasswatch-router",
        silences_topic: str | None = None,
        acks_topic: str | None = None,
        state_topic: str | None = None,
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
        for name, notifier in self.notifiers.items():  # a stand-in records as itself
            if notifier.name != name:
                dispatcher.delivered_as.setdefault(name, notifier.name)
        self.group_id = group_id
        self.deliveries_topic = deliveries_topic
        self.deliveries = DeliveryStore(CompactedTopic(bootstrap, deliveries_topic))
        self.silences_topic = silences_topic
        self.side = RouterSideTopics(
            bootstrap,
            dispatcher,
            self.notifiers.values(),
            silences_topic=silences_topic,
            acks_topic=acks_topic,
            state_topic=state_topic,
        )
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.redact = redact
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._committed: dict[tuple[str, int], int] = {}
        self._inflight: dict[int, tuple[Delivery, asyncio.Task[NotifyError | None]]] = {}
        self.max_backlog = max_backlog
        """Pause consuming while this many notifications wait (a long outage must not eat memory)."""
        self._paused = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Load the delivery log, the state, silences and acks, then join the consumer group."""
        await self.deliveries.load(self.dispatcher.log)
        log.info("router: %d delivery records loaded", len(self.dispatcher.log))
        try:
            await self.side.start(self.clock())
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
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()
        with contextlib.suppress(BrokerError):  # what was settled while draining
            await self.side.save()
        await self.side.close()
        self._consumer = self._producer = None
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
        await self.side.poll(self.clock())
        await self._settle_finished()
        for delivery in self.dispatcher.ready(self.clock()):
            self._inflight[delivery.id] = (delivery, asyncio.create_task(self._attempt(delivery)))
        await self._settle_finished()
        await self.side.save()  # the state of what is committed next is durable first
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
            await self.side.save()  # e.g. the Slack thread of what was just posted

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
                coord = Coord(tp.topic, tp.partition, rec.offset)
                try:
                    alert = Alert.model_validate_json(rec.value or b"")
                except pydantic.ValidationError as exc:
                    await self._unreadable(coord, rec.value or b"", exc)
                    continue
                self.dispatcher.ingest(alert, self.clock(), coord)
        return count

    async def _unreadable(self, coord: Coord, raw: bytes, exc: pydantic.ValidationError) -> None:
        """Dead-letter a message that is no Alert (once, even across restarts); it is committable."""
        if not self.deliveries.dead_lettered(coord):
            not_json = any(e["type"] == "json_invalid" for e in exc.errors())
            detail = f"not an Alert: {exc.error_count()} error(s), first: {exc.errors()[0]['msg']}"
            letter = DeadLetter.of(
                raw=raw,
                topic=coord.topic,
                partition=coord.partition,
                offset=coord.offset,
                error_class="ValidationError",
                reason="not_json" if not_json else "invalid",
                detail=self.redact(detail),
            )
            await self._dead_letter(letter)
            await self.deliveries.mark_dead_lettered(coord)
        self.dispatcher.skip(coord)

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

    async def _attempt(self, delivery: Delivery) -> NotifyError | None:
        notifier = self.notifiers.get(delivery.notification.receiver)
        if notifier is None:
            return NotifyError(f"no notifier for receiver {delivery.notification.receiver}", retryable=False)
        try:
            if delivery.notification.ack is None:
                await asyncio.to_thread(notifier.send, delivery.notification)
            elif isinstance(notifier, Acknowledger):
                await asyncio.to_thread(notifier.acknowledge, delivery.notification)
        except NotifyError as exc:
            return exc
        except Exception as exc:  # a notifier bug must not lose the alert: retry it
            return NotifyError(
                self.redact(f"{notifier.name}: unexpected {type(exc).__name__}: {exc}"), retryable=True
            )
        return None

    def _log_failure(self, delivery: Delivery, error: NotifyError, settled: Settled) -> None:
        receiver, what = delivery.notification.receiver, self.redact(error)
        if settled.retry_at is None:
            n = len(settled.dead_letters)
            log.error("delivery to %s refused for good: %s; %d dead letter(s)", receiver, what, n)
            return
        retry = settled.retry_at.isoformat()
        log.warning(
            "delivery to %s failed (attempt %d): %s; retrying at %s", receiver, delivery.attempt, what, retry
        )

    async def _persist(self, settled: Settled) -> None:
        await self.deliveries.record(settled.records)
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
