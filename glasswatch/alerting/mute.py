"""The mute seam: anything that answers ``mutes(alert, now)`` can silence notifications.

Silences (:class:`~glasswatch.alerting.silence.Silences`) and inhibition
(:class:`~glasswatch.alerting.inhibit.Inhibitor`) both implement :class:`Muter` (as Alertmanager's
``notify/mute.go`` has one ``Muter`` for its silencer and inhibitor); the dispatcher turns each
into a pipeline stage with :func:`mute_stage`. A muter mutes *firing* alerts only: a resolve
always passes the stage (the dedup stage then decides whether it is owed, i.e. whether its firing
was delivered), so no incident is left open by a silence or an inhibition.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.alerting.notify.base import Notification
>>> from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Severity
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> class MuteChurn:
...     def mutes(self, alert, now):
...         return alert.model == "churn"
>>> def drift(model, status=AlertStatus.FIRING):
...     return Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model=model,
...                        signal="feature:age", summary="age drifted", starts_at=t, status=status)
>>> stage = mute_stage(MuteChurn())
>>> out = stage(Notification(receiver="slack", group_key="g",
...                          alerts=(drift("churn"), drift("fraud"))), t)
>>> [a.model for a in out.alerts]
['fraud']
>>> stage(Notification(receiver="slack", group_key="g", alerts=(drift("churn"),)), t) is None
True
>>> gone = drift("churn", AlertStatus.RESOLVED)
>>> stage(Notification(receiver="slack", group_key="g", alerts=(gone,)), t).alerts == (gone,)
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from glasswatch.alerting.notify.base import Notification, Stage
from glasswatch.schemas.alert import Alert, AlertStatus

__all__ = ["Muter", "mute_stage"]


class Muter(Protocol):
    """Answers whether ``alert`` is muted at ``now`` (pure: no I/O, no wall clock)."""

    def mutes(self, alert: Alert, now: datetime) -> bool: ...


def mute_stage(muter: Muter) -> Stage:
    """A stage dropping the firing alerts ``muter`` mutes; resolves pass (dedup decides if owed).

    A notification left with no alert is dropped (``None``).
    """

    def stage(n: Notification, now: datetime) -> Notification | None:
        return n.with_alerts(
            [a for a in n.alerts if a.status is AlertStatus.RESOLVED or not muter.mutes(a, now)]
        )

    return stage
