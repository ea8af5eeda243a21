"""Desktop notifications for training runs, with a quiet fallback to the log.

Decision: plyer picks a backend at call time; on a headless Linux box (no D-Bus, no
``notify-send``) it first emits ``UserWarning``\\ s and then raises ``NotImplementedError``. A
training job must not fail or spam warnings because nobody is watching a desktop, so both are
swallowed and the message goes to the ``glasswatch.training`` logger instead.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

from glasswatch.schemas.alert import Alert

__all__ = ["AlertSink", "desktop_notify", "log_alert"]

log = logging.getLogger("glasswatch.training")

AlertSink = Callable[[Alert], None]
"""Where a training alert goes (a router, a Slack notifier, a test list's ``append``)."""


def desktop_notify(title: str, message: str, *, enabled: bool = True) -> bool:
    """Show a desktop notification; return False (and log) when there is no desktop.

    >>> desktop_notify("t", "m", enabled=False)
    False
    """
    if not enabled:
        log.info("notification (desktop off): %s: %s", title, message)
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from plyer import notification

            notification.notify(title=title[:64], message=message[:256], app_name="glasswatch", timeout=10)
    except Exception as exc:  # any backend failure means "no desktop here"
        log.info("notification (no desktop backend: %s): %s: %s", type(exc).__name__, title, message)
        return False
    return True


def log_alert(alert: Alert) -> None:
    """Default :data:`AlertSink`: one warning line with the summary and fingerprint."""
    log.warning("alert %s [%s] %s: %s", alert.kind.value, alert.fingerprint, alert.model, alert.summary)
