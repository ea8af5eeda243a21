"""Webhook receiver: POST an Alertmanager-style JSON body with the stdlib (``urllib``).

The stdlib keeps the dependency list short and gives full control of error text: the URL is a
secret (tokens hide in webhook URLs) and never appears in a log line or an error. Body::

    {"version": "4", "receiver": ..., "status": "firing"|"resolved", "groupKey": ...,
     "groupLabels": {...}, "alerts": [<Alert JSON>...]}

Errors map like every receiver (:mod:`glasswatch.alerting.notify.http_errors`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.http_errors import from_status, network_error
from glasswatch.alerting.notify.receivers import url_problem
from glasswatch.alerting.notify.redaction import Redactor

__all__ = ["WebhookNotifier", "post_json", "webhook_body"]


def post_json(url: str, body: Any, *, service: str, timeout: float, redact: Callable[[object], str]) -> None:
    """POST ``body`` as JSON to ``url`` (its scheme checked by the caller); an HTTP error or a
    network failure becomes the :class:`~glasswatch.errors.NotifyError` of
    :mod:`~glasswatch.alerting.notify.http_errors` (429/5xx retryable, ``Retry-After`` kept),
    with ``redact`` applied to whatever it quotes."""
    req = urllib.request.Request(  # noqa: S310  (scheme checked by the caller)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "glasswatch"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            resp.read()
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace") if exc.fp is not None else ""
        raise from_status(
            service, exc.code, body=text, retry_after=exc.headers.get("Retry-After"), redact=redact
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise network_error(service, exc, redact=redact) from None


def webhook_body(n: Notification) -> dict[str, Any]:
    """The JSON document posted for ``n``."""
    return {
        "version": "4",
        "receiver": n.receiver,
        "status": "firing" if n.firing else "resolved",
        "groupKey": n.group_key,
        "groupLabels": n.group_labels,
        "alerts": [a.model_dump(mode="json") for a in n.alerts],
    }


class WebhookNotifier:
    def __init__(self, name: str, *, url: SecretStr, timeout: float = 10.0) -> None:
        problem = url_problem(url.get_secret_value())
        if problem is not None:
            raise ValueError(f"receiver {name}: url {problem}")
        self.name = name
        self._url = url
        self._timeout = timeout
        parts = urllib.parse.urlsplit(url.get_secret_value())
        # the URL's path and query are the secret part; servers like to echo just those back
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        self._redact = Redactor([url, tail if len(tail) >= 6 else None, parts.query or None])

    def send(self, notification: Notification) -> None:
        post_json(self._url.get_secret_value(), webhook_body(notification), service=f"webhook {self.name}",
                  timeout=self._timeout, redact=self._redact)  # fmt: skip
