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


@pytest.mark.parametrize(
    ("model", "signal"),
    [
        ("bc", "feature:mean radius:mean"),
        ("bc", "feature:a:b:mean"),
        ('x fp=0 "q"', "feature:Größe (cm):drift"),
    ],
)
def test_a_value_with_spaces_is_quoted_so_the_keys_stay_the_keys(model: str, signal: str) -> None:
    """Real column names hold spaces: a signal built from one is quoted, and ``fp=`` inside a
    value does not read as a key (shlex reads the line the way a key=value parser would)."""
    import shlex

    from glasswatch.alerting.notify.log import format_line

    a = alert(signal, model=model)
    tokens = shlex.split(format_line(a))
    assert tokens[:3] == ["alert", "firing", "warning"]
    pairs = dict(t.split("=", 1) for t in tokens[3:])
    assert list(pairs) == ["model", "kind", "signal", "fp", "summary"]
    assert (pairs["model"], pairs["signal"], pairs["fp"]) == (model, signal, a.fingerprint)
