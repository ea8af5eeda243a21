from __future__ import annotations

import logging

import pytest

from glasswatch.alerting.notify.base import Notifier
from glasswatch.alerting.notify.build import build_notifiers
from glasswatch.alerting.notify.desktop import DesktopNotifier
from glasswatch.alerting.notify.log import LogNotifier
from glasswatch.alerting.notify.pagerduty import PagerDutyNotifier
from glasswatch.alerting.notify.slack.notifier import SlackNotifier
from glasswatch.alerting.notify.webhook import WebhookNotifier
from glasswatch.alerting.routes import default_routing, load_routing
from glasswatch.errors import ConfigError
from glasswatch.testing.routing import alert

CFG = load_routing(
    """
receivers:
  - {name: pd, kind: pagerduty, routing_key: {env: PD_KEY}}
  - {name: slack, kind: slack, channel: "#ml", token: {env: SLACK_TOKEN}}
  - {name: hook, kind: webhook, url: {env: HOOK_URL}}
  - {name: desk, kind: desktop}
  - {name: log, kind: log}
route: {receiver: log}
"""
)
ENV = {"PD_KEY": "pd-CANARY-key", "SLACK_TOKEN": "xoxb-CANARY", "HOOK_URL": "https://hooks.local/CANARY"}


def test_every_kind_is_built_and_secrets_are_known_to_the_redactor() -> None:
    notifiers, redact = build_notifiers(CFG, ENV, env="prod")
    kinds = {name: type(n) for name, n in notifiers.items()}
    assert kinds == {
        "pd": PagerDutyNotifier,
        "slack": SlackNotifier,
        "hook": WebhookNotifier,
        "desk": DesktopNotifier,
        "log": LogNotifier,
    }
    assert all(isinstance(n, Notifier) and n.name == name for name, n in notifiers.items())
    assert "CANARY" not in redact(" ".join(ENV.values())).replace("[REDACTED]", "")


def test_missing_secret_fails_outside_local_without_naming_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConfigError, match="receiver pd: routing_key is not configured"):
        build_notifiers(CFG, {}, env="prod")


def test_missing_secret_degrades_to_log_locally(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    notifiers, _ = build_notifiers(default_routing("local"), {}, env="local")
    assert isinstance(notifiers["pagerduty"], LogNotifier)
    assert isinstance(notifiers["slack"], LogNotifier)
    assert "GLASSWATCH_NOTIFY__PAGERDUTY_ROUTING_KEY is not set" in caplog.text
    assert alert().fingerprint  # the factory needs no network
