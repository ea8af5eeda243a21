"""Log receiver: one line per alert on the ``glasswatch.alerts`` logger. Never fails.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.alerting.notify.base import Notification
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> a = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="churn",
...                 signal="feature:age", summary="age drifted",
...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> format_line(a).replace(a.fingerprint, "<fp>")
'alert firing warning model=churn kind=data_drift signal=feature:age fp=<fp> summary="age drifted"'
"""

from __future__ import annotations

import logging

from glasswatch.alerting.notify.base import Notification
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.text import printable

__all__ = ["LogNotifier", "format_line"]


def format_line(alert: Alert) -> str:
    """A grep-friendly line (``key=value``) for ``alert``: one line whatever the alert holds
    (control characters escaped by :func:`~glasswatch.schemas.text.printable`, quotes in the
    summary as ``\\"``), so a producer cannot forge or hide log lines.

    >>> from datetime import datetime, timezone
    >>> from glasswatch.schemas.alert import AlertKind, Severity
    >>> a = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="m\\nalert x",
    ...                 signal="s", summary='say "hi"\\x1b[2J',
    ...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> print(format_line(a).replace(a.fingerprint, "<fp>"))
    alert firing warning model=m\\x0aalert x kind=data_drift signal=s fp=<fp> summary="say \\"hi\\"\\x1b[2J"
    """
    summary = printable(alert.summary.replace("\\", "\\\\").replace('"', '\\"'))
    return (
        f"alert {alert.status.value} {alert.severity.value} model={printable(alert.model)} "
        f"kind={alert.kind.value} signal={printable(alert.signal)} fp={printable(alert.fingerprint)} "
        f'summary="{summary}"'
    )


class LogNotifier:
    """Writes each alert of a notification to ``logger`` at WARNING (INFO when resolved)."""

    def __init__(self, name: str = "log", logger: logging.Logger | None = None) -> None:
        self.name = name
        self.logger = logger or logging.getLogger("glasswatch.alerts")

    def send(self, notification: Notification) -> None:
        for alert in notification.alerts:
            level = logging.INFO if alert.status.value == "resolved" else logging.WARNING
            self.logger.log(level, "%s", format_line(alert), extra={"fingerprint": alert.fingerprint})
