"""Build one :class:`~glasswatch.alerting.notify.base.Notifier` per receiver of a routing config.

Secrets are resolved here, at the edge, from the ``environ`` mapping handed in. A receiver
whose secret is missing fails the start (:class:`~glasswatch.errors.ConfigError` naming the
receiver and the variable, never a value) — except in ``env == "local"``, where it degrades
to the log receiver with a warning, so a laptop run needs no Slack or PagerDuty account. That
stand-in is its own receiver: its name (the id deliveries are recorded under) is
``<receiver>→log``, so once the secret is set the real receiver still owes what only the log saw.
A receiver URL the client cannot use (a webhook URL from the environment that is not http(s))
fails the start with a :class:`~glasswatch.errors.ConfigError` naming the receiver.
The returned :class:`~glasswatch.alerting.notify.redaction.Redactor` knows every resolved secret.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping

from pydantic import SecretStr

from glasswatch.alerting.notify.alertmanager import AlertmanagerNotifier
from glasswatch.alerting.notify.base import FALLBACK_SUFFIX, Notifier
from glasswatch.alerting.notify.desktop import DesktopNotifier
from glasswatch.alerting.notify.log import LogNotifier
from glasswatch.alerting.notify.pagerduty import PagerDutyNotifier
from glasswatch.alerting.notify.receivers import (
    AlertmanagerReceiver,
    AnyReceiver,
    DesktopReceiver,
    LogReceiver,
    PagerDutyReceiver,
    SecretRef,
    SlackReceiver,
    WebhookReceiver,
)
from glasswatch.alerting.notify.redaction import Redactor
from glasswatch.alerting.notify.slack.notifier import SlackNotifier
from glasswatch.alerting.notify.webhook import WebhookNotifier
from glasswatch.alerting.routes import RoutingConfig
from glasswatch.errors import ConfigError

__all__ = ["build_notifiers"]

log = logging.getLogger(__name__)


def _secret(
    receiver: AnyReceiver, field: str, ref: SecretRef, environ: Mapping[str, str]
) -> SecretStr | None:
    value = ref.resolve(environ)
    if value is None:
        where = f"environment variable {ref.env}" if ref.env else "value"
        log.warning("receiver %s: %s %s is not set", receiver.name, field, where)
    return value


def build_notifiers(
    config: RoutingConfig,
    environ: Mapping[str, str],
    *,
    env: str = "local",
    verify: ssl.SSLContext | str | bool = True,
    timeout: float = 10.0,
) -> tuple[dict[str, Notifier], Redactor]:
    """Notifiers by receiver name, and a redactor for their secrets."""
    out: dict[str, Notifier] = {}
    secrets: list[SecretStr] = []
    for r in config.receivers:
        secret: SecretStr | None = None
        field = ""
        if isinstance(r, SlackReceiver):
            field, secret = "token", _secret(r, "token", r.token, environ)
        elif isinstance(r, PagerDutyReceiver):
            field, secret = "routing_key", _secret(r, "routing_key", r.routing_key, environ)
        elif isinstance(r, WebhookReceiver):
            field, secret = "url", _secret(r, "url", r.url, environ)
        if field and secret is None:
            if env != "local":
                raise ConfigError(f"receiver {r.name}: {field} is not configured")
            log.warning("receiver %s: no %s; delivering to the log instead (env=local)", r.name, field)
            out[r.name] = LogNotifier(r.name + FALLBACK_SUFFIX)
            continue
        if secret is not None:
            secrets.append(secret)
        if isinstance(r, SlackReceiver) and secret is not None:
            out[r.name] = SlackNotifier(
                r.name, channel=r.channel, token=secret, base_url=r.api_url, timeout=int(max(timeout, 1))
            )
        elif isinstance(r, PagerDutyReceiver) and secret is not None:
            out[r.name] = PagerDutyNotifier(
                r.name, routing_key=secret, base_url=r.url, timeout=timeout, verify=verify
            )
        elif isinstance(r, WebhookReceiver) and secret is not None:
            try:
                out[r.name] = WebhookNotifier(r.name, url=secret, timeout=timeout)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        elif isinstance(r, AlertmanagerReceiver):
            out[r.name] = AlertmanagerNotifier(r.name, url=r.url, timeout=timeout)
        elif isinstance(r, DesktopReceiver):
            out[r.name] = DesktopNotifier(r.name, environ=environ)
        elif isinstance(r, LogReceiver):
            out[r.name] = LogNotifier(r.name)
    return out, Redactor(secrets)
