from __future__ import annotations

import logging

import pytest
from routing_factories import alert, resolved

from glasswatch.adapters.log_notifier import LogNotifier
from glasswatch.core.notify import Notification


def test_one_line_per_alert_with_levels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="glasswatch.alerts")
    a = alert()
    LogNotifier().send(Notification(receiver="log", group_key="g", alerts=(a, resolved(alert("x")))))
    assert [(r.levelno, r.getMessage().split()[1]) for r in caplog.records] == [
        (logging.WARNING, "firing"),
        (logging.INFO, "resolved"),
    ]
    assert f"fp={a.fingerprint}" in caplog.records[0].getMessage()
