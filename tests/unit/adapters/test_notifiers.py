from __future__ import annotations

import logging

import pytest
from routing_factories import alert

from glasswatch.adapters.desktop_notifier import DesktopNotifier
from glasswatch.adapters.log_notifier import LogNotifier
from glasswatch.adapters.notifiers import build_notifiers
from glasswatch.adapters.pagerduty_notifier import PagerDutyNotifier
from glasswatch.adapters.slack_notifier import SlackNotifier
from glasswatch.adapters.webhook_notifier import WebhookNotifier
from glasswatch.core.notify import Notifier
from glasswatch.core.routes import default_routing, load_routing
from glasswatch.errors import ConfigError

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
