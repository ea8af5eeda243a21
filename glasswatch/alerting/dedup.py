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
  (nobody hears of a problem that came and went before the first notification).

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

from collections.abc import Iterable
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

    @property
    def key(self) -> str:
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
        self, alert: Alert, receiver: str, now: datetime, outcome: Outcome = Outcome.DELIVERED
    ) -> DeliveryRecord:
        """Remember that ``receiver`` got (or refused) ``alert`` at ``now``."""
        rec = DeliveryRecord(
            fingerprint=alert.fingerprint,
            status=alert.status,
            receiver=receiver,
            starts_at=alert.starts_at,
            at=now,
            alert_id=alert.id,
            outcome=outcome,
        )
        self._records[rec.key] = rec
        return rec


def dedup_stage(log: DeliveryLog) -> Stage:
    """Narrow a notification to the alerts its receiver still needs (drop it when none)."""

    def stage(n: Notification, now: datetime) -> Notification | None:
        return n.with_alerts([a for a in n.alerts if log.needs(a, n.receiver, now, n.repeat_interval)])

    return stage
