"""Escalation: a warning still firing and unacknowledged ``after`` its first notification
becomes critical (so the route tree pages someone).

The escalator *observes* notifications on their way to a receiver (the ``escalate`` stage), so
a silenced or inhibited warning never escalates. :meth:`Escalator.due` returns the escalated
copies to feed back through routing; :meth:`Escalator.apply` keeps later states of an escalated
alert (its resolve) critical, so the resolve reaches the same receiver as the page.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.alerting.notify.base import Notification
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> warn = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="m",
...                    signal="feature:x", summary="x drifted", starts_at=t)
>>> esc = Escalator(after=timedelta(minutes=30))
>>> _ = esc.observe(Notification(receiver="slack", group_key="g", alerts=(warn,)), t)
>>> esc.due(t + timedelta(minutes=29))
[]
>>> [(a.severity.value, a.labels["escalated"]) for a in esc.due(t + timedelta(minutes=30))]
[('critical', 'true')]
>>> esc.due(t + timedelta(hours=1))
[]
"""

from __future__ import annotations

from datetime import datetime, timedelta

from glasswatch.alerting.notify.base import Notification, Stage
from glasswatch.schemas.alert import Alert, AlertStatus, Severity

__all__ = ["Escalator", "escalate", "escalation_stage"]


def escalate(alert: Alert, to: Severity = Severity.CRITICAL) -> Alert:
    """``alert`` with severity ``to`` (labels ``severity`` and ``escalated`` updated)."""
    labels = {**alert.labels, "severity": to.value, "escalated": "true"}
    return alert.model_copy(update={"severity": to, "labels": labels})


class Escalator:
    """Tracks notified warnings by fingerprint; see the module docstring."""

    def __init__(self, after: timedelta = timedelta(minutes=30), to: Severity = Severity.CRITICAL) -> None:
        self.after = after
        self.to = to
        self._watch: dict[str, tuple[Alert, datetime]] = {}
        self._acked: set[str] = set()
        self._escalated: set[str] = set()

    def observe(self, notification: Notification, now: datetime) -> Notification:
        """Start the clock for firing warnings; forget resolved ones. Returns ``notification``."""
        for a in notification.alerts:
            if a.status is AlertStatus.RESOLVED:
                self._watch.pop(a.fingerprint, None)
                self._acked.discard(a.fingerprint)
            elif a.severity is Severity.WARNING and a.fingerprint not in self._escalated:
                self._watch.setdefault(a.fingerprint, (a, now))
        return notification

    def acknowledge(self, fingerprint: str) -> None:
        """Someone took the warning: it will not escalate."""
        self._acked.add(fingerprint)

    def due(self, now: datetime) -> list[Alert]:
        """Warnings to escalate now (each once per episode)."""
        out = []
        for fp, (alert, since) in list(self._watch.items()):
            if fp not in self._acked and now - since >= self.after:
                out.append(escalate(alert, self.to))
                self._escalated.add(fp)
                del self._watch[fp]
        return out

    def next_due_at(self) -> datetime | None:
        return min(
            (since + self.after for fp, (_, since) in self._watch.items() if fp not in self._acked),
            default=None,
        )

    def apply(self, alert: Alert) -> Alert:
        """Keep an escalated condition critical (its resolve too); forget it once resolved."""
        if alert.fingerprint not in self._escalated:
            return alert
        if alert.status is AlertStatus.RESOLVED:
            self._escalated.discard(alert.fingerprint)
        return escalate(alert, self.to) if alert.severity is not self.to else alert


def escalation_stage(escalator: Escalator) -> Stage:
    """The pipeline step that lets ``escalator`` observe what is being notified."""

    def stage(n: Notification, now: datetime) -> Notification | None:
        return escalator.observe(n, now)

    return stage
