"""Slack receiver: the real ``slack_sdk`` WebClient, one Block Kit message per alert group.

* First notification of a group → ``chat.postMessage``; its ``ts`` is remembered per group key.
  Later notifications of the group (new alerts, repeats, resolves) are replies in that thread;
  when nothing in the group fires any more, the parent is ``chat.update``-d to "resolved"
  (best effort: a failed update is logged, the reply already told the story). The thread of
  each firing alert is also written to :attr:`SlackNotifier.state`
  (:class:`~glasswatch.alerting.state_book.StateBook`, key: fingerprint, value:
  ``{"channel", "ts"}``), which the router persists in its compacted router-state topic and
  reloads at start: after a restart the resolve is still a reply under the firing message.
  Entries are deleted when their alert resolves.
* :meth:`SlackNotifier.acknowledge` replies in the alert's thread "acknowledged by X: note"
  (both escaped for ``mrkdwn``), or posts it with the alert's summary when no thread is known.
* At most one message per second per channel (:class:`~glasswatch.alerting.notify.rate_limit.RateLimiter`,
  injectable clock and sleep).
* The SDK's own retry handlers are turned off (``retry_handlers=[]``): the router's
  ``RetryPolicy`` is the only place that waits, and it honours ``Retry-After``.
* Errors: 429/``ratelimited`` → retryable with ``retry_after``; 5xx, timeouts, connection
  errors and Slack's transient error codes → retryable; ``invalid_auth``, ``channel_not_found``
  and other 4xx / ``ok: false`` answers → permanent. The token never appears in a message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.http_errors import from_status, network_error
from glasswatch.alerting.notify.rate_limit import RateLimiter
from glasswatch.alerting.notify.redaction import RedactingFilter, Redactor
from glasswatch.alerting.notify.slack.blocks import mrkdwn_escape, render
from glasswatch.alerting.state_book import StateBook
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import Alert

__all__ = ["TRANSIENT_ERRORS", "SlackNotifier"]

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackNotifier:
    """Posts alert groups to ``channel``; see the module docstring."""

    def __init__(
        self,
        name: str,
        *,
        channel: str,
        token: SecretStr,
        base_url: str | None = None,
        timeout: int = 10,
        limiter: RateLimiter | None = None,
        client: WebClient | None = None,
        state: StateBook | None = None,
    ) -> None:
        self.name = name
        self.channel = channel
        self._redact = Redactor([token])
        sdk_log = logging.getLogger(f"{__name__}.sdk.{name}")
        sdk_log.setLevel(logging.INFO)  # the SDK logs response bodies at DEBUG
        sdk_log.addFilter(RedactingFilter(self._redact))
        self._client = client or WebClient(
            token=token.get_secret_value(),
            base_url=base_url or "https://slack.com/api/",
            timeout=timeout,
            retry_handlers=[],
            logger=sdk_log,
        )
        self.limiter = limiter or RateLimiter(1.0)
        self._threads: dict[str, tuple[str, str]] = {}
        """group key → (channel id, parent ts)."""
        self.state = state if state is not None else StateBook(f"slack|{name}|")
        """Thread per alert fingerprint, persisted by the router (see the module docstring)."""
        self._lock = threading.Lock()

    def thread_of(self, group_key: str) -> str | None:
        """The parent ``ts`` of a group's thread, if one was posted."""
        found = self._threads.get(group_key)
        return found[1] if found else None

    def _thread(self, notification: Notification) -> tuple[str, str] | None:
        """The group's thread, else the remembered thread of one of its alerts (after a restart)."""
        found = self._threads.get(notification.group_key)
        if found is None:
            found = next(filter(None, (self._alert_thread(a) for a in notification.alerts)), None)
        return found

    def _alert_thread(self, alert: Alert) -> tuple[str, str] | None:
        raw = self.state.get(alert.fingerprint)
        try:
            data = json.loads(raw) if raw else None
            return (str(data["channel"]), str(data["ts"])) if isinstance(data, dict) else None
        except (ValueError, KeyError):
            return None

    def send(self, notification: Notification) -> None:
        text, blocks = render(notification)
        with self._lock:
            thread = self._thread(notification)
            replied = thread is not None
            resp = self._call(
                "chat.postMessage",
                channel=self.channel,
                text=text,
                blocks=blocks,
                thread_ts=thread[1] if thread else None,
            )
            if thread is None and notification.firing and resp.get("ts"):  # no ts: nothing to continue
                thread = (str(resp.get("channel") or self.channel), str(resp["ts"]))
                self._threads[notification.group_key] = thread
            if thread is not None:
                value = json.dumps({"channel": thread[0], "ts": thread[1]}).encode()
                for a in notification.firing:
                    self.state.set(a.fingerprint, value)
            for a in notification.resolved:
                self.state.delete(a.fingerprint)
            if thread is None or not replied:
                return
            if not notification.firing:
                self._threads.pop(notification.group_key, None)
                try:
                    self._call("chat.update", channel=thread[0], ts=thread[1], text=text, blocks=blocks)
                except NotifyError as exc:
                    log.warning("slack %s: could not mark thread resolved: %s", self.name, exc)

    def acknowledge(self, notification: Notification) -> None:
        """Reply in each alert's thread that it was acknowledged (a new message without one)."""
        ack = notification.ack
        if ack is None:
            return
        said = f":eyes: acknowledged by {mrkdwn_escape(ack.by)}" + (
            f": {mrkdwn_escape(ack.note)}" if ack.note else ""
        )
        with self._lock:
            for alert in notification.alerts:
                thread = self._alert_thread(alert)
                text = said if thread else f"{said} — {mrkdwn_escape(f'[{alert.model}] {alert.summary}')}"
                ts = thread[1] if thread else None
                self._call("chat.postMessage", channel=self.channel, text=text, thread_ts=ts)

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        self.limiter.wait(self.channel)
        call: Callable[..., Any] = (
            self._client.chat_postMessage if method == "chat.postMessage" else self._client.chat_update
        )
        try:
            resp = call(**{k: v for k, v in kwargs.items() if v is not None})
        except SlackApiError as exc:
            raise self._api_error(method, exc) from None
        except (SlackClientError, OSError, TimeoutError) as exc:
            raise network_error(f"slack {method}", exc, redact=self._redact) from None
        return dict(resp.data) if isinstance(resp.data, dict) else {}

    def _api_error(self, method: str, exc: SlackApiError) -> NotifyError:
        response = exc.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        code = str(data.get("error", "")) if data else ""
        headers = {str(k).lower(): str(v) for k, v in (getattr(response, "headers", None) or {}).items()}
        if status == 200 and code:
            if code in TRANSIENT_ERRORS:
                return NotifyError(f"slack {method}: {code}", retryable=True)
            return NotifyError(self._redact(f"slack {method}: {code}"), retryable=False)
        err = from_status(
            f"slack {method}",
            status or 500,
            body=code,
            retry_after=headers.get("retry-after"),
            redact=self._redact,
        )
        return err
