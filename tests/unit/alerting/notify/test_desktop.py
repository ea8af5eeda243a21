from __future__ import annotations

import logging

import pytest

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.desktop import DesktopNotifier, is_headless
from glasswatch.testing.routing import alert

N = Notification(receiver="desktop", group_key="g", alerts=(alert(),))


def test_headless_linux_degrades_to_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    called: list[object] = []
    caplog.set_level(logging.INFO)
    assert is_headless({}, "linux")
    assert not is_headless({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    notifier = DesktopNotifier(environ={}, notify=lambda **kw: called.append(kw))
    assert notifier.headless is is_headless({})
    DesktopNotifier(headless=True, notify=lambda **kw: called.append(kw)).send(N)
    assert called == []
    assert "desktop (headless): alert firing warning model=churn" in caplog.text


def test_pops_up_with_title_and_message() -> None:
    called: list[dict[str, object]] = []
    DesktopNotifier(headless=False, notify=lambda **kw: called.append(kw)).send(N)
    (kw,) = called
    assert kw["title"] == "[WARNING] churn: data_drift"
    assert kw["app_name"] == "glasswatch"


def test_a_broken_backend_never_crashes(caplog: pytest.LogCaptureFixture) -> None:
    def boom(**kw: object) -> None:
        raise NotImplementedError("no backend")

    caplog.set_level(logging.INFO)
    DesktopNotifier(headless=False, notify=boom).send(N)
    assert "desktop (unavailable: NotImplementedError)" in caplog.text


def test_real_plyer_on_this_machine_does_not_raise() -> None:
    DesktopNotifier(headless=False).send(N)  # whatever plyer finds here, send() must not raise
