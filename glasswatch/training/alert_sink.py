"""Where a training alert goes: a plain callable, so training never imports a broker client.

:data:`AlertSink` is the seam the quality gate (:func:`glasswatch.training.gate.enforce`) hands its
``quality_gate`` :class:`~glasswatch.schemas.alert.Alert` to. The ``train`` command
(``glasswatch/commands/train.py``) wires it to one of the two paths every alert takes:

* the alerts topic (``glasswatch.kafka.alert_publisher.AlertPublisher``), where the router groups,
  deduplicates, silences and routes it like any monitor alert; or
* :func:`routed_sink` over :class:`~glasswatch.alerting.notify.base.Notifier`\\ s (a local run:
  log and desktop), the same receivers the router would call.

:func:`with_fallback` tries the first and falls back to the second when the first fails with a
:class:`~glasswatch.errors.GlasswatchError` (no broker, a receiver refused). Library callers
that pass nothing get :data:`log_sink` (the log receiver).

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.alerting.routes import default_routing
>>> from glasswatch.schemas.alert import AlertKind, Severity
>>> from glasswatch.testing.fakes import FakeNotifier
>>> alert = Alert.build(kind=AlertKind.QUALITY_GATE, severity=Severity.WARNING, model="churn",
...                     signal="gate:roc_auc", summary="refused",
...                     starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> log, desktop = FakeNotifier("log"), FakeNotifier("desktop")
>>> sink = routed_sink(default_routing("local"), [log, desktop])  # slack has no notifier here
>>> sink(alert)
>>> [n.receiver for n in desktop.sent + log.sent], log.alerts == [alert]
(['desktop', 'log'], True)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from glasswatch.alerting.grouping import group_key, group_labels
from glasswatch.alerting.notify.base import Notification, Notifier
from glasswatch.alerting.notify.log import LogNotifier
from glasswatch.alerting.route_tree import Route
from glasswatch.alerting.routes import RoutingConfig
from glasswatch.errors import GlasswatchError, NotifyError
from glasswatch.schemas.alert import Alert

__all__ = ["AlertSink", "log_sink", "notifier_sink", "routed_sink", "with_fallback"]

log = logging.getLogger("glasswatch.training")

AlertSink = Callable[[Alert], None]
"""Takes one alert and delivers it, or raises a :class:`~glasswatch.errors.GlasswatchError`."""


def _deliver(pairs: Iterable[tuple[Notifier, Notification]], alert: Alert) -> None:
    """Send each notification; every notifier is tried, the last failure is raised after."""
    failed: NotifyError | None = None
    tried = 0
    for notifier, notification in pairs:
        tried += 1
        try:
            notifier.send(notification)
        except NotifyError as exc:
            log.error("receiver %s did not take alert %s: %s", notifier.name, alert.fingerprint, exc)
            failed = exc
    if failed is not None:
        raise failed
    if tried == 0:
        raise NotifyError(f"no receiver for alert {alert.fingerprint}", retryable=False)


def routed_sink(config: RoutingConfig, notifiers: Iterable[Notifier]) -> AlertSink:
    """Route each alert through ``config``'s tree and send it to the matched receivers that have
    a notifier here (receivers without one, e.g. Slack on a laptop, are skipped)."""
    by_name = {n.name: n for n in notifiers}

    def send(alert: Alert) -> None:
        routes: list[Route] = [r for r in config.route.match(alert.labels) if r.receiver in by_name]
        _deliver(
            ((by_name[r.receiver], _notification(r.receiver, alert, r)) for r in routes), alert
        )

    return send


def notifier_sink(notifiers: Iterable[Notifier]) -> AlertSink:
    """Send each alert, as a one-alert notification, to every notifier (no routing)."""
    chosen = tuple(notifiers)

    def send(alert: Alert) -> None:
        _deliver(((n, _notification(n.name, alert, None)) for n in chosen), alert)

    return send


def _notification(receiver: str, alert: Alert, route: Route | None) -> Notification:
    if route is None:
        return Notification(receiver=receiver, group_key=f"{{}}:{alert.fingerprint}", alerts=(alert,))
    return Notification(
        receiver=receiver,
        group_key=group_key(route, alert.labels),
        group_labels=group_labels(route, alert.labels),
        alerts=(alert,),
        repeat_interval=route.repeat_interval,
    )


def with_fallback(primary: AlertSink, fallback: AlertSink, *, what: str = "primary sink") -> AlertSink:
    """``primary``, or ``fallback`` when ``primary`` raises a :class:`GlasswatchError`."""

    def send(alert: Alert) -> None:
        try:
            primary(alert)
        except GlasswatchError as exc:
            log.warning("%s failed (%s); alert %s goes to the fallback", what, exc, alert.fingerprint)
            fallback(alert)

    return send


log_sink: AlertSink = notifier_sink([LogNotifier("log")])
"""The default sink: one line on the ``glasswatch.alerts`` logger."""
