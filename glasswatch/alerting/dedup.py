"""The notification log: what each receiver was told, by fingerprint and status.

One :class:`DeliveryRecord` per ``(fingerprint, status, receiver)`` — the key of the durable
delivery log the router keeps in a compacted topic, so a restart re-pages no one. A record
belongs to one *episode* of the condition (``starts_at``): when the condition fires again later
it is a new episode and is notified again.

The dedup stage (:func:`dedup_stage`) narrows a group's notification to what the receiver still
needs, following Alertmanager's ``DedupStage``:

* a firing alert is sent when this episode was never delivered to the receiver, or again
  when ``repeat_interval`` has passed since it was;
* a resolved alert is sent only when its firing was delivered and its resolve was not
  (nobody hears of a problem that came and went before the first notification, or while it
  was silenced or inhibited).

Records are kept under the receiver that *actually* delivered: the dispatcher maps a route's
receiver to its delivery id (a receiver degraded to the log fallback records as ``slack→log``),
so what the fallback printed is never mistaken for what the real receiver was told.
An acknowledgement told to a receiver is recorded too (``acknowledged=True``, its own key), so a
restart does not tell it twice.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Severity
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> fire = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="m",
...                    signal="feature:x", summary="x drifted", starts_at=t)
>>> log = DeliveryLog()
>>> log.needs(fire, "slack", t, timedelta(hours=4))
True
>>> _ = log.record(fire, "slack", t)
>>> log.needs(fire, "slack", t + timedelta(hours=1), timedelta(hours=4))
False
>>> resolved = fire.model_copy(update={"status": AlertStatus.RESOLVED})
>>> day = timedelta(hours=4)
>>> log.needs(resolved, "slack", t, day), log.needs(resolved, "pagerduty", t, day)
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from glasswatch.alerting.notify.base import Notification, Stage
from glasswatch.schemas.alert import Alert, AlertStatus

__all__ = ["DeliveryLog", "DeliveryRecord", "Outcome", "dedup_stage"]


class Outcome(StrEnum):
    DELIVERED = "delivered"
    REJECTED = "rejected"
    """The receiver refused permanently (dead-lettered); never retried."""


class DeliveryRecord(BaseModel):
    """The last delivery of one ``(fingerprint, status, receiver)``; carries no secrets."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    fingerprint: str
    status: AlertStatus
    receiver: str
    starts_at: datetime
    """The episode: the firing start of the alert."""
    at: datetime
    alert_id: str
    outcome: Outcome = Outcome.DELIVERED
    acknowledged: bool = False
    """A record of an acknowledgement told to the receiver, not of a notification."""

    @property
    def key(self) -> str:
        if self.acknowledged:
            return f"{self.receiver}|{self.fingerprint}|ack"
        return f"{self.receiver}|{self.fingerprint}|{self.status.value}"


class DeliveryLog:
    """In-memory notification log; the router persists :meth:`record` results and reloads them."""

    def __init__(self, records: Iterable[DeliveryRecord] = ()) -> None:
        self._records: dict[str, DeliveryRecord] = {}
        for r in records:
            self.load(r)

    def load(self, record: DeliveryRecord) -> None:
        """Take a record read back from the durable log (the later ``at`` wins)."""
        old = self._records.get(record.key)
        if old is None or old.at <= record.at:
            self._records[record.key] = record

    def __len__(self) -> int:
        return len(self._records)

    def get(self, alert: Alert, receiver: str, status: AlertStatus | None = None) -> DeliveryRecord | None:
        """The record of this episode of ``alert`` (``status`` defaults to the alert's)."""
        st = status or alert.status
        rec = self._records.get(f"{receiver}|{alert.fingerprint}|{st.value}")
        return rec if rec is not None and rec.starts_at == alert.starts_at else None

    def needs(self, alert: Alert, receiver: str, now: datetime, repeat_interval: timedelta) -> bool:
        """Whether ``receiver`` must be told about ``alert`` now."""
        if alert.status is AlertStatus.RESOLVED:
            fired = self.get(alert, receiver, AlertStatus.FIRING)
            return (
                fired is not None and fired.outcome is Outcome.DELIVERED and self.get(alert, receiver) is None
            )
        done = self.get(alert, receiver)
        if done is None:
            return True
        if done.outcome is Outcome.REJECTED:
            return False
        resolved = self.get(alert, receiver, AlertStatus.RESOLVED)
        if resolved is not None and resolved.at >= done.at:
            return False  # an old firing state arriving after the resolve was told
        return now - done.at >= repeat_interval

    def record(
        self,
        alert: Alert,
        receiver: str,
        now: datetime,
        outcome: Outcome = Outcome.DELIVERED,
        *,
        acknowledged: bool = False,
    ) -> DeliveryRecord:
        """Remember that ``receiver`` got (or refused) ``alert`` — or its acknowledgement — at ``now``."""
        rec = DeliveryRecord(
            fingerprint=alert.fingerprint,
            status=alert.status,
            receiver=receiver,
            starts_at=alert.starts_at,
            at=now,
            alert_id=alert.id,
            outcome=outcome,
            acknowledged=acknowledged,
        )
        self._records[rec.key] = rec
        return rec

    def delivered(self, alert: Alert, receiver: str) -> bool:
        """Whether this firing episode of ``alert`` was delivered to ``receiver``."""
        fired = self.get(alert, receiver, AlertStatus.FIRING)
        return fired is not None and fired.outcome is Outcome.DELIVERED

    def acknowledged(self, alert: Alert, receiver: str) -> bool:
        """Whether ``receiver`` was told of an acknowledgement of this episode of ``alert``."""
        rec = self._records.get(f"{receiver}|{alert.fingerprint}|ack")
        return rec is not None and rec.starts_at == alert.starts_at


def dedup_stage(log: DeliveryLog, receiver_id: Callable[[str], str] = str) -> Stage:
    """Narrow a notification to the alerts its receiver still needs (drop it when none);
    ``receiver_id`` maps a route's receiver to the id its deliveries are recorded under."""

    def stage(n: Notification, now: datetime) -> Notification | None:
        rid = receiver_id(n.receiver)
        return n.with_alerts([a for a in n.alerts if log.needs(a, rid, now, n.repeat_interval)])

    return stage
