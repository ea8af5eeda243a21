"""Aggregation groups (Alertmanager ``dispatch/dispatch.go``): one per route and ``group_by`` values.

A new group waits ``group_wait`` (30 s) before its first notification so alerts that arrive
together go out together; afterwards it flushes every ``group_interval`` (5 m). Each flush
carries every alert of the group; resolved alerts leave the group after being flushed and an
empty group is dropped. Whether a flush is worth sending (new alerts, resolves owed, or
``repeat_interval`` passed) is the dedup stage's decision, not the group's. ``group_by: [...]``
(the literal ``...``) groups by all labels. Time is passed in.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.alerting.route_tree import Route
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> route = Route(id="/", receiver="slack", group_by=("model",))
>>> def alert(signal):
...     return Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="churn",
...                        signal=signal, summary=signal, starts_at=t0)
>>> g = Grouper().add(alert("feature:age"), [route], t0)
>>> g = g.add(alert("feature:income"), [route], t0 + timedelta(seconds=10))
>>> g.flush_due(t0 + timedelta(seconds=29))
[]
>>> [len(n.alerts) for n in g.flush_due(t0 + timedelta(seconds=30))]
[2]
>>> g.next_flush_at() == t0 + timedelta(seconds=30, minutes=5)
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from glasswatch.alerting.notify.base import AlertSource, Notification
from glasswatch.alerting.route_tree import Route
from glasswatch.schemas.alert import Alert, AlertStatus

__all__ = ["Grouper", "group_key", "group_labels"]


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that identify an alert's group on ``route``.

    >>> group_labels(Route(id="/", receiver="x", group_by=("model",)), {"model": "m", "a": "b"})
    {'model': 'm'}
    """
    if "..." in route.group_by:
        return dict(sorted(labels.items()))
    return {k: labels.get(k, "") for k in route.group_by}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Stable key ``<route id>:{k="v",...}`` (the same shape as Alertmanager's)."""
    inner = ",".join(f'{k}="{v}"' for k, v in group_labels(route, labels).items())
    return f"{route.id}:{{{inner}}}"


@dataclass
class _Group:
    route: Route
    key: str
    labels: dict[str, str]
    next_flush: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    sources: list[AlertSource] = field(default_factory=list)


class Grouper:
    """Holds the aggregation groups; ``add`` alerts, then ``flush_due(now)`` for notifications."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}

    def add(
        self, alert: Alert, routes: Iterable[Route], now: datetime, source: AlertSource | None = None
    ) -> Self:
        """Put ``alert`` in its group on each of ``routes`` (a newer state replaces the older)."""
        for route in routes:
            key = group_key(route, alert.labels)
            group = self._groups.get(key)
            if group is None:
                group = _Group(
                    route=route,
                    key=key,
                    labels=group_labels(route, alert.labels),
                    next_flush=now + route.group_wait,
                )
                self._groups[key] = group
            group.alerts[alert.fingerprint] = alert
            if source is not None:
                group.sources.append(source)
        return self

    def __len__(self) -> int:
        return len(self._groups)

    def next_flush_at(self) -> datetime | None:
        """When the earliest group is due (``None`` without groups)."""
        return min((g.next_flush for g in self._groups.values()), default=None)

    def flush_due(self, now: datetime) -> list[Notification]:
        """Notifications of every group due at ``now``, in group creation order."""
        out: list[Notification] = []
        for key, group in list(self._groups.items()):
            if group.next_flush > now:
                continue
            out.append(
                Notification(
                    receiver=group.route.receiver,
                    group_key=key,
                    group_labels=group.labels,
                    alerts=tuple(group.alerts.values()),
                    repeat_interval=group.route.repeat_interval,
                    sources=tuple(group.sources),
                )
            )
            group.sources.clear()
            group.alerts = {fp: a for fp, a in group.alerts.items() if a.status is AlertStatus.FIRING}
            if group.alerts:
                group.next_flush = now + group.route.group_interval
            else:
                del self._groups[key]
        return out
