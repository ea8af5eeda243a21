"""The router's brain, without I/O: route → group → (inhibit → silence → dedup → escalate) → send.

The runtime (:mod:`glasswatch.agents.router`) feeds alerts in with their Kafka
coordinates (:meth:`Dispatcher.ingest`), asks what to send now (:meth:`Dispatcher.ready`),
performs the sends, reports each outcome (:meth:`succeeded` / :meth:`failed`), persists the
returned :class:`~glasswatch.alerting.dedup.DeliveryRecord` values and dead letters, and only then
commits :meth:`committable` offsets. Hence:

* a message's offset is committable once every route it matched has had its group flushed and
  that notification was delivered, permanently rejected (dead-lettered) or dropped by a stage;
* each receiver has a FIFO queue with at most one delivery in flight, so a trigger is never
  overtaken by its resolve (order per dedup key) and a retrying receiver holds back only itself;
* retryable failures are rescheduled with :class:`~glasswatch.alerting.notify.base.RetryPolicy` (time
  passed in, seeded jitter); a permanent failure, or retries past ``max_elapsed``, yields one
  ``rejected_by_receiver`` dead letter per alert. Error text is redacted again here;
* deliveries are recorded under the id of the notifier that made them (:attr:`Dispatcher.delivered_as`,
  set by the runtime from ``Notifier.name``): when a receiver was not configured and its log
  fallback (``slack→log``) printed an alert, the real receiver still owes it. Alerts still firing
  reach it once it is configured — :meth:`Dispatcher.restore` re-routes the firing alerts kept in
  the router state at start, and the dedup stage finds nothing delivered under the real id — while
  alerts resolved meanwhile are not sent (a resolve is owed only where the firing was delivered);
* an acknowledgement (:meth:`Dispatcher.acknowledge`, an :class:`~glasswatch.schemas.ack.AlertAck`
  covering a firing episode) stops its escalation and queues, for every receiver that was told
  of the firing, a notification with ``ack`` set (PagerDuty ``acknowledge``, Slack thread reply),
  behind that receiver's earlier notifications; told once, recorded like a delivery. An ack that
  arrives before the firing was delivered somewhere is told there right after the delivery.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.alerting.routes import default_routing
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> from glasswatch.schemas.coords import Coord
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> d = Dispatcher(default_routing("prod"))
>>> a = Alert.build(kind=AlertKind.EVENT_RATE, severity=Severity.CRITICAL, model="m",
...                 signal="events", summary="no events", starts_at=t)
>>> d.ingest(a, t, Coord("alerts", 0, 41))
>>> d.ready(t), d.committable()
([], {('alerts', 0): 41})
>>> sends = d.ready(t + timedelta(seconds=30))
>>> sorted(s.notification.receiver for s in sends)
['log', 'pagerduty']
>>> settled = [d.succeeded(s, t + timedelta(seconds=31)) for s in sends]
>>> d.committable()
{('alerts', 0): 42}
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from glasswatch.alerting.dedup import DeliveryLog, DeliveryRecord, Outcome, dedup_stage
from glasswatch.alerting.escalation import Escalator, escalation_stage
from glasswatch.alerting.grouping import Grouper
from glasswatch.alerting.inhibit import Inhibitor
from glasswatch.alerting.mute import mute_stage
from glasswatch.alerting.notify.base import AlertSource, Notification, RetryPolicy, Stage, run_stages
from glasswatch.alerting.offsets import PendingOffsets
from glasswatch.alerting.routes import RoutingConfig
from glasswatch.alerting.severity_rules import SeverityRule, apply_rules, top_feature_drift
from glasswatch.alerting.silence import Silences
from glasswatch.alerting.state_book import StateBook
from glasswatch.errors import NotifyError
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.dead_letter import DeadLetter

__all__ = ["Delivery", "Dispatcher", "Settled"]


@dataclass(frozen=True)
class Delivery:
    """One try of one notification to one receiver (``attempt`` counts from 1)."""

    id: int
    notification: Notification
    attempt: int


@dataclass(frozen=True)
class Settled:
    """What an outcome asks the runtime to persist before committing offsets."""

    records: tuple[DeliveryRecord, ...] = ()
    dead_letters: tuple[DeadLetter, ...] = ()
    retry_at: datetime | None = None


@dataclass
class _Item:
    id: int
    notification: Notification
    next_at: datetime
    attempts: int = 0
    first_try: datetime | None = None
    in_flight: bool = False


class Dispatcher:
    """See the module docstring. Not thread-safe: drive it from one loop."""

    def __init__(
        self,
        config: RoutingConfig,
        *,
        silences: Silences | None = None,
        log: DeliveryLog | None = None,
        escalator: Escalator | None = None,
        severity_rules: Sequence[SeverityRule] = (top_feature_drift(3),),
        retry: RetryPolicy | None = None,
        seed: int = 0,
        redact: Callable[[object], str] = str,
        alerts_topic: str = "",
        delivered_as: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.silences = silences if silences is not None else Silences()
        self.log = log if log is not None else DeliveryLog()
        self.escalator = escalator if escalator is not None else Escalator()
        self.severity_rules = tuple(severity_rules)
        self.retry = retry or RetryPolicy()
        self.redact = redact
        self.alerts_topic = alerts_topic
        self.delivered_as: dict[str, str] = dict(delivered_as or {})
        """Receiver name → the id its deliveries are recorded under (absent: the name itself)."""
        self.inhibitor = Inhibitor(config.inhibit_rules, state=StateBook("inhibit|"))
        self.grouper = Grouper()
        self.acks: dict[str, AlertAck] = {}
        """The latest acknowledgement per fingerprint (dropped when its episode resolves)."""
        self.stages: list[Stage] = [
            mute_stage(self.inhibitor),
            mute_stage(self.silences),
            dedup_stage(self.log, self.receiver_id),
            escalation_stage(self.escalator),
        ]
        self._rng = random.Random(seed)
        self._queues: dict[str, deque[_Item]] = {}
        self.offsets = PendingOffsets()
        self._offsets = self.offsets.partitions
        self._next_id = 0

    def receiver_id(self, receiver: str) -> str:
        """The id deliveries to ``receiver`` are recorded under (see :attr:`delivered_as`)."""
        return self.delivered_as.get(receiver, receiver)

    # -- input ---------------------------------------------------------------------------
    def ingest(self, alert: Alert, now: datetime, coord: Coord | None = None) -> None:
        """Route and group one alert; ``coord`` is its message's (``None`` for escalations)."""
        alert = self.escalator.apply(apply_rules(self.severity_rules, alert))
        self.inhibitor.update(alert)
        ack = self.acks.get(alert.fingerprint)
        if ack is not None and ack.covers(alert.fingerprint, alert.starts_at):
            if alert.status is AlertStatus.RESOLVED:
                del self.acks[alert.fingerprint]
            else:
                self.escalator.acknowledge(alert.fingerprint)
        routes = self.config.route.match(alert.labels)
        source = None  # a redelivery of a pending message is counted once
        if coord is not None and self.offsets.see(coord, len(routes)):
            source = AlertSource(coord, alert.fingerprint)
        self.grouper.add(alert, routes, now, source)

    def restore(self, now: datetime) -> int:
        """After a restart: take back the firing alerts of the router state (inhibition) and
        route them again, so receivers that still owe them (a receiver configured since, a
        repeat) are told; the dedup stage drops what was delivered. Returns how many."""
        alerts = self.inhibitor.restore()
        for alert in alerts:
            self.ingest(alert, now)
        return len(alerts)

    def acknowledge(self, ack: AlertAck, now: datetime) -> bool:
        """Take ``ack``; when it covers a firing episode, stop its escalation and queue the
        acknowledgement for every receiver told of the firing. Returns whether it did."""
        old = self.acks.get(ack.fingerprint)
        if old is None or old.at <= ack.at:
            self.acks[ack.fingerprint] = ack
        alert = self.inhibitor.firing_alert(ack.fingerprint)
        if alert is None or not ack.covers(alert.fingerprint, alert.starts_at):
            return False
        self.escalator.acknowledge(alert.fingerprint)
        for r in self.config.receivers:
            self._queue_ack(r.name, alert, now)
        return True

    def _queue_ack(self, receiver: str, alert: Alert, now: datetime) -> None:
        ack, rid = self.acks.get(alert.fingerprint), self.receiver_id(receiver)
        if ack is None or not ack.covers(alert.fingerprint, alert.starts_at):
            return
        if not self.log.delivered(alert, rid) or self.log.acknowledged(alert, rid):
            return
        queue = self._queues.setdefault(receiver, deque())
        if any(i.notification.ack is not None and i.notification.alerts[0].fingerprint == alert.fingerprint
               for i in queue):
            return
        self._next_id += 1
        n = Notification(receiver=receiver, group_key=f"ack:{alert.fingerprint}", alerts=(alert,), ack=ack)
        queue.append(_Item(self._next_id, n, now))

    def skip(self, coord: Coord) -> None:
        """A message with nothing to deliver (e.g. dead-lettered as unreadable): committable."""
        self.offsets.see(coord, 0)

    # -- what to do now ------------------------------------------------------------------
    def ready(self, now: datetime) -> list[Delivery]:
        """Flush due groups and escalations; the deliveries to attempt now (≤ 1 per receiver)."""
        for alert in self.escalator.due(now):
            self.ingest(alert, now)
        for n in self.grouper.flush_due(now):
            self._next_id += 1
            self._queues.setdefault(n.receiver, deque()).append(_Item(self._next_id, n, now))
        out: list[Delivery] = []
        for queue in self._queues.values():
            while queue and not queue[0].in_flight and queue[0].next_at <= now:
                item = queue[0]
                narrowed = self._narrow(item.notification, now)
                if narrowed is None:
                    queue.popleft()
                    self._release(item.notification.sources)
                    continue
                item.in_flight = True
                item.first_try = item.first_try or now
                out.append(Delivery(item.id, narrowed, item.attempts + 1))
                break
        return out

    def _narrow(self, n: Notification, now: datetime) -> Notification | None:
        if n.ack is None:
            return run_stages(self.stages, n, now)
        owed = [a for a in n.alerts if not self.log.acknowledged(a, self.receiver_id(n.receiver))]
        return n.with_alerts(owed)

    def next_wakeup(self) -> datetime | None:
        """The earliest time :meth:`ready` may have something new (``None``: only on input)."""
        times = [self.grouper.next_flush_at(), self.escalator.next_due_at()]
        times += [q[0].next_at for q in self._queues.values() if q and not q[0].in_flight]
        return min((t for t in times if t is not None), default=None)

    @property
    def backlog(self) -> int:
        """Notifications queued or in flight."""
        return sum(len(q) for q in self._queues.values())

    # -- outcomes ------------------------------------------------------------------------
    def succeeded(self, delivery: Delivery, now: datetime) -> Settled:
        """The receiver accepted ``delivery``."""
        n, rid = delivery.notification, self.receiver_id(delivery.notification.receiver)
        item = self._pop(delivery)
        acked = n.ack is not None
        records = tuple(self.log.record(a, rid, now, acknowledged=acked) for a in n.alerts)
        self._release(item.notification.sources)
        if not acked:
            for a in n.firing:
                self._queue_ack(n.receiver, a, now)
        return Settled(records=records)

    def failed(self, delivery: Delivery, error: NotifyError, now: datetime) -> Settled:
        """The receiver refused: retry later, or dead-letter when permanent or exhausted."""
        item = self._head(delivery)
        item.attempts += 1
        item.in_flight = False
        detail = self.redact(error)
        if error.retryable:
            elapsed = (now - (item.first_try or now)).total_seconds()
            wait = self.retry.next_delay(
                attempt=item.attempts, elapsed=elapsed, rng=self._rng, retry_after=error.retry_after
            )
            if wait is not None:
                item.next_at = now + _seconds(wait)
                return Settled(retry_at=item.next_at)
            detail = f"gave up after {item.attempts} attempts over {elapsed:.0f}s: {detail}"
        self._pop(delivery)
        n, rid = delivery.notification, self.receiver_id(delivery.notification.receiver)
        records = tuple(
            self.log.record(a, rid, now, Outcome.REJECTED, acknowledged=n.ack is not None) for a in n.alerts
        )
        if n.ack is not None:  # an acknowledgement refused: recorded, not a lost alert
            return Settled(records=records)
        dead = tuple(
            self._dead_letter(n, a.fingerprint, a.model_dump_json().encode(), detail) for a in n.alerts
        )
        self._release(item.notification.sources)
        return Settled(records=records, dead_letters=dead)

    def committable(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition): the next offset to commit (everything before it is settled)."""
        return self.offsets.committable()

    # -- helpers -------------------------------------------------------------------------
    def _dead_letter(self, n: Notification, fingerprint: str, raw: bytes, detail: str) -> DeadLetter:
        ref = next((s.coord for s in reversed(n.sources) if s.fingerprint == fingerprint), None)
        return DeadLetter.of(
            raw=raw,
            topic=ref.topic if ref else self.alerts_topic,
            partition=ref.partition if ref else -1,
            offset=ref.offset if ref else -1,
            error_class="NotifyError",
            reason="rejected_by_receiver",
            detail=f"receiver {n.receiver}: {self.redact(detail)}",
        )

    def _head(self, delivery: Delivery) -> _Item:
        queue = self._queues.get(delivery.notification.receiver)
        if not queue or queue[0].id != delivery.id:
            raise ValueError(f"delivery {delivery.id} is not in flight")
        return queue[0]

    def _pop(self, delivery: Delivery) -> _Item:
        item = self._head(delivery)
        self._queues[delivery.notification.receiver].popleft()
        return item

    def _release(self, sources: Sequence[AlertSource]) -> None:
        self.offsets.release(s.coord for s in sources)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
