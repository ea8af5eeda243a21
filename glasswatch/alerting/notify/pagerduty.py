"""PagerDuty receiver: the real ``pagerduty`` package's ``EventsApiV2Client`` (Events API v2).

One event per alert: ``trigger`` for firing alerts with ``dedup_key`` = the alert fingerprint,
``resolve`` with the same key for resolved ones, in the notification's order. An acknowledgement
(:meth:`PagerDutyNotifier.acknowledge`) is an ``acknowledge`` event with the same key. The trigger
carries ``summary`` (≤ 1024 chars), ``source`` (``glasswatch/<model>``), ``severity``
(critical / warning / info), ``component`` (signal), ``group`` (model), ``class`` (kind),
``custom_details`` (the evidence, plus ``replay_command`` and ``lineage``), ``links``
(dashboard, playbook, MLflow run) and ``images`` when the evidence has a ``plot_url``.

The library's own retries are switched off — ``retry = {429: 1, 5xx: 1}`` with
``max_http_attempts = -1`` makes its loop hand back the first response for those statuses
(otherwise it retries 429 forever and sleeps inside the call), ``max_network_attempts = 0``
raises on the first connection error — so the router's ``RetryPolicy`` is the only retry
authority and honours ``Retry-After``, which the library ignores. The library insists on an
``https://`` base URL; tests run a local TLS server and pass ``verify=``.

Alerts already accepted in this process are skipped when a notification is retried after a
partial failure, so each event is sent once. Errors never quote the routing key (the library's
own messages include its last four characters; we build ours from status codes instead).
"""

from __future__ import annotations

import logging
import ssl
from collections import OrderedDict
from typing import Any

import pagerduty
from pydantic import SecretStr

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.http_errors import from_status, network_error
from glasswatch.alerting.notify.redaction import RedactingFilter, Redactor
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import Alert, AlertStatus, Severity

__all__ = ["SUMMARY_LIMIT", "PagerDutyNotifier", "trigger_kwargs"]

log = logging.getLogger(__name__)

SUMMARY_LIMIT = 1024
_SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}
_REMEMBER = 10_000


def trigger_kwargs(alert: Alert) -> dict[str, Any]:
    """The keyword arguments of ``EventsApiV2Client.trigger`` for ``alert``."""
    data = alert.model_dump(mode="json")
    details: dict[str, Any] = dict(data["evidence"])
    if alert.replay_command:
        details.setdefault("replay_command", alert.replay_command)
    details.setdefault("lineage", data["lineage"])
    links = [
        {"href": alert.links.dashboard, "text": "Dashboard"},
        {"href": alert.links.playbook, "text": "Playbook"},
    ]
    if alert.links.mlflow_run:
        links.append({"href": alert.links.mlflow_run, "text": "MLflow run"})
    plot = alert.evidence.get("plot_url")
    images = [{"src": plot, "alt": f"{alert.signal} evidence"}] if isinstance(plot, str) and plot else None
    return {
        "summary": f"[{alert.model}] {alert.summary}"[:SUMMARY_LIMIT],
        "source": f"glasswatch/{alert.model}",
        "dedup_key": alert.fingerprint,
        "severity": _SEVERITY[alert.severity],
        "payload": {
            "component": alert.signal,
            "group": alert.model,
            "class": alert.kind.value,
            "timestamp": alert.starts_at.isoformat(),
        },
        "custom_details": details,
        "links": links,
        "images": images,
    }


def _not_the_disabled_retry_notice(record: logging.LogRecord) -> bool:
    """Drop the library's "exceeded maximum number of attempts (-1)" error: that is our setting
    handing the response back, not a failure (the router logs the outcome itself)."""
    return "Non-transient HTTP error" not in str(record.msg)


class PagerDutyNotifier:
    """Sends triggers and resolves for the alerts of a notification; see the module docstring."""

    def __init__(
        self,
        name: str,
        *,
        routing_key: SecretStr,
        base_url: str | None = None,
        timeout: float = 10.0,
        verify: ssl.SSLContext | str | bool = True,
    ) -> None:
        self.name = name
        self._redact = Redactor([routing_key])
        self._client = pagerduty.EventsApiV2Client(
            routing_key.get_secret_value(), base_url=base_url, verify=verify
        )
        self._client.timeout = timeout  # type: ignore[assignment]  # httpx takes float seconds
        self._client.retry = {429: 1, 500: 1, 502: 1, 503: 1, 504: 1}
        self._client.max_http_attempts = -1
        self._client.max_network_attempts = 0
        client_log = logging.getLogger(f"{__name__}.client.{name}")
        client_log.addFilter(RedactingFilter(self._redact))
        client_log.addFilter(_not_the_disabled_retry_notice)
        self._client.log = client_log
        self._accepted: OrderedDict[str, None] = OrderedDict()

    def close(self) -> None:
        self._client.close()

    def send(self, notification: Notification) -> None:
        for alert in notification.alerts:
            if alert.id in self._accepted:
                continue
            self._send_one(alert)
            self._accepted[alert.id] = None
            if len(self._accepted) > _REMEMBER:
                self._accepted.popitem(last=False)

    def acknowledge(self, notification: Notification) -> None:
        """An ``acknowledge`` event per alert (``dedup_key`` = fingerprint): the incident shows
        who has it and PagerDuty stops escalating."""
        for alert in notification.alerts:
            key = f"ack|{alert.id}"
            if key in self._accepted:
                continue
            try:
                self._client.acknowledge(alert.fingerprint)
            except pagerduty.Error as exc:
                raise self._error("acknowledge", exc) from None
            except (OSError, TimeoutError) as exc:
                raise network_error("pagerduty acknowledge", exc, redact=self._redact) from None
            self._accepted[key] = None

    def _send_one(self, alert: Alert) -> None:
        action = "resolve" if alert.status is AlertStatus.RESOLVED else "trigger"
        try:
            if action == "resolve":
                self._client.resolve(alert.fingerprint)
            else:
                self._client.trigger(**trigger_kwargs(alert))
        except pagerduty.Error as exc:
            raise self._error(action, exc) from None
        except (OSError, TimeoutError) as exc:
            raise network_error(f"pagerduty {action}", exc, redact=self._redact) from None

    def _error(self, action: str, exc: pagerduty.Error) -> NotifyError:
        response = exc.response
        if response is None:
            return network_error(f"pagerduty {action}", exc, redact=self._redact)
        status = int(response.status_code)
        if 200 <= status < 300:  # accepted but the body was not what we expect: let it retry
            return NotifyError(f"pagerduty {action}: malformed response (HTTP {status})", retryable=True)
        try:
            body = response.text
        except Exception:  # body already consumed or undecodable
            body = ""
        return from_status(
            f"pagerduty {action}",
            status,
            body=body,
            retry_after=response.headers.get("retry-after"),
            redact=self._redact,
        )
