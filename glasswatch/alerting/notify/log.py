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
    (control characters escaped by :func:`~glasswatch.schemas.text.printable`; the summary, and a
    model or signal that is not one plain word, in quotes with quotes inside as ``\\"``), so a
    producer cannot forge or hide log lines or keys.

    >>> from datetime import datetime, timezone
    >>> from glasswatch.schemas.alert import AlertKind, Severity
    >>> a = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="m\\nalert x",
    ...                 signal="s", summary='say "hi"\\x1b[2J',
    ...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> print(format_line(a).replace(a.fingerprint, "<fp>"))
    alert firing warning model="m\\x0aalert x" kind=data_drift signal=s fp=<fp> summary="say \\"hi\\"\\x1b[2J"
    >>> a = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="bc",
    ...                 signal="feature:mean radius:mean", summary="up",
    ...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> print(format_line(a).replace(a.fingerprint, "<fp>"))
    alert firing warning model=bc kind=data_drift signal="feature:mean radius:mean" fp=<fp> summary="up"
    """
    return (
        f"alert {alert.status.value} {alert.severity.value} model={_value(alert.model)} "
        f"kind={alert.kind.value} signal={_value(alert.signal)} fp={printable(alert.fingerprint)} "
        f"summary={_quoted(alert.summary)}"
    )


def _quoted(text: str) -> str:
    return '"' + printable(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _value(text: str) -> str:
    """``text`` as it is when it is one plain word, else quoted like the summary (a feature name
    such as ``mean radius`` makes a signal with a space, and ``x fp=0`` must not read as a key)."""
    plain = printable(text)
    if plain and not any(ch.isspace() or ch in '"=' for ch in plain):
        return plain
    return _quoted(text)


class LogNotifier:
    """Writes each alert of a notification to ``logger`` at WARNING (INFO when resolved)."""

    def __init__(self, name: str = "log", logger: logging.Logger | None = None) -> None:
        self.name = name
        self.logger = logger or logging.getLogger("glasswatch.alerts")

    def send(self, notification: Notification) -> None:
        for alert in notification.alerts:
            level = logging.INFO if alert.status.value == "resolved" else logging.WARNING
            self.logger.log(level, "%s", format_line(alert), extra={"fingerprint": alert.fingerprint})

    def acknowledge(self, notification: Notification) -> None:
        """Log that the alerts were acknowledged (who and the note, escaped) at INFO."""
        ack = notification.ack
        if ack is None:
            return
        for alert in notification.alerts:
            fp = printable(alert.fingerprint)
            line = f"alert acknowledged by={_quoted(ack.by)} note={_quoted(ack.note)} fp={fp}"
            self.logger.info("%s", line, extra={"fingerprint": alert.fingerprint})
