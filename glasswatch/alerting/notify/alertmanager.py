"""Alertmanager receiver: post glasswatch alerts to an existing Alertmanager (API v2).

Platform teams route, silence and inhibit glasswatch's alerts with what they already run:
one ``POST <url>/api/v2/alerts`` per notification, the body a list of *postable alerts*::

    {"labels": {"alertname": <kind>, "model", "signal", "severity", "fingerprint", ...},
     "annotations": {"summary", "dashboard", "playbook", ["mlflow_run"], ["replay_command"]},
     "startsAt": <alert start>, "endsAt": <see below>, "generatorURL": <dashboard link>}

Alertmanager identifies an alert by its label set, so the labels are the alert's own (model,
kind, severity, signal and any extra ones) plus ``alertname`` (the kind) and ``fingerprint``
(glasswatch's, 16 hex). Label names Alertmanager refuses (not ``[a-zA-Z_][a-zA-Z0-9_]*``) and
empty values are left out rather than failing the whole post.

``endsAt``: a resolved alert is sent with ``endsAt`` = now (wall clock), which resolves it at
once. A firing one is sent with ``endsAt`` = now + 2 × the route's ``repeat_interval``: the
router re-sends firing alerts every ``repeat_interval``, and an Alertmanager left without news
(glasswatch stopped) resolves the alert on its own afterwards, as it does for a Prometheus that
went away. Without ``endsAt``, Alertmanager would resolve it after its ``resolve_timeout`` (5 m).

Errors map like every receiver (:mod:`glasswatch.alerting.notify.http_errors`): 429 (with
``Retry-After``), 408, 5xx and network failures are retryable, other 4xx are not. The body is
sent with the stdlib (``urllib``), like the webhook receiver.

Examples
--------
>>> from glasswatch.testing.routing import alert
>>> doc = postable_alert(alert(), now=datetime(2026, 1, 1, tzinfo=UTC), hold=timedelta(hours=1))
>>> doc["labels"]["alertname"], doc["endsAt"]
('data_drift', '2026-01-01T01:00:00+00:00')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.receivers import url_problem
from glasswatch.alerting.notify.webhook import post_json
from glasswatch.schemas.alert import Alert, AlertStatus

__all__ = ["API_PATH", "AlertmanagerNotifier", "postable_alert"]

API_PATH = "/api/v2/alerts"
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def postable_alert(alert: Alert, *, now: datetime, hold: timedelta) -> dict[str, Any]:
    """The API v2 ``postableAlert`` for ``alert`` (``hold``: how long a firing one lasts unsent)."""
    labels = {k: v for k, v in alert.labels.items() if _LABEL_NAME.fullmatch(k) and v}
    labels.update(
        alertname=alert.kind.value,
        model=alert.model,
        signal=alert.signal,
        severity=alert.severity.value,
        fingerprint=alert.fingerprint,
    )
    annotations = {
        "summary": alert.summary,
        "dashboard": alert.links.dashboard,
        "playbook": alert.links.playbook,
    }
    if alert.links.mlflow_run:
        annotations["mlflow_run"] = alert.links.mlflow_run
    if alert.replay_command:
        annotations["replay_command"] = alert.replay_command
    resolved = alert.status is AlertStatus.RESOLVED
    return {
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": annotations,
        "startsAt": alert.starts_at.isoformat(),
        "endsAt": (now if resolved else now + hold).isoformat(),
        "generatorURL": alert.links.dashboard,
    }


class AlertmanagerNotifier:
    """Posts each notification's alerts to the Alertmanager at ``url`` (its base URL)."""

    def __init__(
        self, name: str, *, url: str, timeout: float = 10.0, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        problem = url_problem(url)
        if problem is not None:
            raise ValueError(f"receiver {name}: url {problem}")
        self.name = name
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.clock = clock

    def send(self, notification: Notification) -> None:
        now = self.clock()
        hold = 2 * notification.repeat_interval
        body = [postable_alert(a, now=now, hold=hold) for a in notification.alerts]
        post_json(self.url + API_PATH, body, service=f"alertmanager {self.name}", timeout=self.timeout,
                  redact=str)  # fmt: skip
