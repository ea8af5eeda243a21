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
  ``rejected_by_receiver`` dead letter per alert. Error text is redacted again here.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from glasswatch.alerting.dedup import DeliveryLog, DeliveryRecord, Outcome, dedup_stage
from glasswatch.alerting.escalation import Escalator, escalation_stage
from glasswatch.alerting.grouping import Grouper
from glasswatch.alerting.inhibit import Inhibitor
from glasswatch.alerting.mute import mute_stage
from glasswatch.alerting.notify.base import AlertSource, Notification, RetryPolicy, Stage, run_stages
from glasswatch.alerting.routes import RoutingConfig
from glasswatch.alerting.severity_rules import SeverityRule, apply_rules, top_feature_drift
from glasswatch.alerting.silence import Silences
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import Alert
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


@dataclass
class _Offsets:
    pending: dict[int, int] = field(default_factory=dict)
    """offset → routes still owing an outcome."""
    max_seen: int = -1


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
    ) -> None:
        self.config = config
        self.silences = silences if silences is not None else Silences()
        self.log = log if log is not None else DeliveryLog()
        self.escalator = escalator if escalator is not None else Escalator()
        self.severity_rules = tuple(severity_rules)
        self.retry = retry or RetryPolicy()
        self.redact = redact
        self.alerts_topic = alerts_topic
        self.inhibitor = Inhibitor(config.inhibit_rules)
        self.grouper = Grouper()
        self.stages: list[Stage] = [
            mute_stage(self.inhibitor),
            mute_stage(self.silences),
            dedup_stage(self.log),
            escalation_stage(self.escalator),
        ]
        self._rng = random.Random(seed)
        self._queues: dict[str, deque[_Item]] = {}
        self._offsets: dict[tuple[str, int], _Offsets] = {}
        self._next_id = 0

    # -- input ---------------------------------------------------------------------------
    def ingest(self, alert: Alert, now: datetime, coord: Coord | None = None) -> None:
        """Route and group one alert; ``coord`` is its message's (``None`` for escalations)."""
        alert = self.escalator.apply(apply_rules(self.severity_rules, alert))
        self.inhibitor.update(alert)
        routes = self.config.route.match(alert.labels)
        source = None
        if coord is not None:
            offs = self._offsets.setdefault((coord.topic, coord.partition), _Offsets())
            offs.max_seen = max(offs.max_seen, coord.offset)
            if coord.offset not in offs.pending:  # else the same message again (redelivery)
                source = AlertSource(coord, alert.fingerprint)
                if routes:
                    offs.pending[coord.offset] = len(routes)
        self.grouper.add(alert, routes, now, source)

    def skip(self, coord: Coord) -> None:
        """A message with nothing to deliver (e.g. dead-lettered as unreadable): committable."""
        offs = self._offsets.setdefault((coord.topic, coord.partition), _Offsets())
        offs.max_seen = max(offs.max_seen, coord.offset)

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
                narrowed = run_stages(self.stages, item.notification, now)
                if narrowed is None:
                    queue.popleft()
                    self._release(item.notification.sources)
                    continue
                item.in_flight = True
                item.first_try = item.first_try or now
                out.append(Delivery(item.id, narrowed, item.attempts + 1))
                break
        return out

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
        n = delivery.notification
        item = self._pop(delivery)
        records = tuple(self.log.record(a, n.receiver, now) for a in n.alerts)
        self._release(item.notification.sources)
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
        n = delivery.notification
        records = tuple(self.log.record(a, n.receiver, now, Outcome.REJECTED) for a in n.alerts)
        dead = tuple(
            self._dead_letter(n, a.fingerprint, a.model_dump_json().encode(), detail) for a in n.alerts
        )
        self._release(item.notification.sources)
        return Settled(records=records, dead_letters=dead)

    def committable(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition): the next offset to commit (everything before it is settled)."""
        return {
            tp: min((o for o, left in offs.pending.items() if left > 0), default=offs.max_seen + 1)
            for tp, offs in self._offsets.items()
        }

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
        for s in sources:
            c = s.coord
            offs = self._offsets.get((c.topic, c.partition))
            if offs is None or c.offset not in offs.pending:
                continue
            offs.pending[c.offset] -= 1
            if offs.pending[c.offset] <= 0:
                del offs.pending[c.offset]


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
