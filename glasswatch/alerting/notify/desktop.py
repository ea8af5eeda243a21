"""Desktop receiver (``plyer``) for local runs. Never crashes the router.

On a headless Linux box (no ``DISPLAY``, ``WAYLAND_DISPLAY`` or ``DBUS_SESSION_BUS_ADDRESS``), or
when plyer has no working backend, each alert degrades to a log line instead. ``send`` never
raises: a desktop pop-up is a convenience, not a delivery guarantee.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.log import format_line

__all__ = ["DesktopNotifier", "is_headless"]

log = logging.getLogger(__name__)


def is_headless(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """True on Linux without a display or session bus (CI, servers, containers).

    >>> is_headless({}, "linux"), is_headless({"DISPLAY": ":0"}, "linux"), is_headless({}, "darwin")
    (True, False, False)
    """
    if not platform.startswith("linux"):
        return False
    return not any(environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"))


def _plyer_notify(**kwargs: Any) -> None:
    from plyer import notification

    notification.notify(**kwargs)


class DesktopNotifier:
    """Pops a desktop notification per alert (or logs it when that is impossible)."""

    def __init__(
        self,
        name: str = "desktop",
        *,
        headless: bool | None = None,
        notify: Callable[..., None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.headless = (
            is_headless(os.environ if environ is None else environ) if headless is None else headless
        )
        self._notify = notify or _plyer_notify

    def send(self, notification: Notification) -> None:
        for alert in notification.alerts:
            if self.headless:
                log.info("desktop (headless): %s", format_line(alert))
                continue
            try:
                self._notify(
                    title=f"[{alert.severity.value.upper()}] {alert.model}: {alert.kind.value}"[:64],
                    message=alert.summary[:250],
                    app_name="glasswatch",
                    timeout=10,
                )
            except Exception as exc:  # any backend failure degrades to a log line
                log.info("desktop (unavailable: %s): %s", type(exc).__name__, format_line(alert))
