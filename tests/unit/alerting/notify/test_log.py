from __future__ import annotations

import logging

import pytest

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.log import LogNotifier
from glasswatch.testing.routing import alert, resolved


def test_one_line_per_alert_with_levels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="glasswatch.alerts")
    a = alert()
    LogNotifier().send(Notification(receiver="log", group_key="g", alerts=(a, resolved(alert("x")))))
    assert [(r.levelno, r.getMessage().split()[1]) for r in caplog.records] == [
        (logging.WARNING, "firing"),
        (logging.INFO, "resolved"),
    ]
    assert f"fp={a.fingerprint}" in caplog.records[0].getMessage()
