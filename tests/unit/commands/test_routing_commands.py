from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glasswatch.cli import app
from glasswatch.errors import ConfigError

GOOD = """\
receivers:
  - {name: pd, kind: pagerduty, routing_key: {env: PD_KEY}}
  - {name: log, kind: log}
route:
  receiver: log
  routes:
    - {matchers: ['severity="critical"'], receiver: pd, group_wait: 10s, continue: true}
"""


def test_routes_check_prints_the_tree(tmp_path: Path) -> None:
    f = tmp_path / "routes.yaml"
    f.write_text(GOOD)
    result = CliRunner().invoke(app, ["routes", "check", str(f)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "* → log (group_by=model,kind wait=30s interval=5m repeat=4h)",
        '  severity="critical" → pd (group_by=model,kind wait=10s interval=5m repeat=4h) continue',
    ]
    assert "receivers: pd (pagerduty), log (log)" in result.output


def test_routes_check_names_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "routes.yaml"
    f.write_text(GOOD.replace("group_wait: 10s", "group_wait: soon"))
    result = CliRunner().invoke(app, ["routes", "check", str(f)])
    assert result.exit_code == 1
    assert f"{f}:7:" in result.output
    assert "route.routes[0].group_wait" in result.output


@pytest.mark.parametrize(
    "module",
    [
        "glasswatch.alerting.matchers",
        "glasswatch.alerting.routes",
        "glasswatch.alerting.notify.receivers",
        "glasswatch.alerting.grouping",
        "glasswatch.alerting.dedup",
        "glasswatch.alerting.silence",
        "glasswatch.alerting.inhibit",
        "glasswatch.alerting.escalation",
        "glasswatch.alerting.severity_rules",
        "glasswatch.alerting.notify.base",
        "glasswatch.alerting.dispatcher",
        "glasswatch.alerting.notify.redaction",
        "glasswatch.alerting.notify.slack.notifier",
        "glasswatch.alerting.notify.slack.blocks",
        "glasswatch.alerting.notify.pagerduty",
        "glasswatch.alerting.notify.desktop",
        "glasswatch.alerting.notify.log",
        "glasswatch.alerting.notify.webhook",
        "glasswatch.alerting.notify.http_errors",
        "glasswatch.alerting.notify.rate_limit",
        "glasswatch.alerting.notify.build",
        "glasswatch.kafka.compacted",
        "glasswatch.kafka.silence_store",
        "glasswatch.agents.router",
        "glasswatch.commands.silence",
        "glasswatch.commands.routes",
        "glasswatch.commands.router",
        "glasswatch.testing",
    ],
)
def test_exported_members(module: str) -> None:
    """``__all__`` lists exactly the public names each module defines (httpx's test_exported_members)."""
    mod = importlib.import_module(module)
    exported = set(mod.__all__)
    defined = {
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module) == module
        and (callable(value) or isinstance(value, type))
    }
    assert exported >= defined, f"public but not exported: {sorted(defined - exported)}"
    assert all(hasattr(mod, name) for name in exported)


def test_router_run_wires_settings_routes_and_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    from glasswatch.agents.router import RouterRuntime
    from glasswatch.alerting.notify.log import LogNotifier
    from glasswatch.alerting.notify.pagerduty import PagerDutyNotifier
    from glasswatch.commands.router import run_router
    from glasswatch.settings import NotifySettings, Settings, TopicSettings

    seen: list[RouterRuntime] = []

    async def fake_run(self: RouterRuntime, stop: object = None) -> None:
        seen.append(self)

    monkeypatch.setattr(RouterRuntime, "run", fake_run)
    f = tmp_path / "routes.yaml"
    f.write_text(GOOD)
    topics = TopicSettings(alerts="a1", dead_letters="d1", silences="s1", deliveries="l1")
    settings = Settings(env="prod", topics=topics)
    # secrets come from the environ handed in (cli.py's snapshot), never from os.environ
    monkeypatch.setenv("PD_KEY", "pd-key-from-os-environ")
    with pytest.raises(ConfigError, match="routing_key is not configured"):
        run_router(settings, f, environ={}, group_id="g1")
    assert seen == []
    run_router(settings, f, environ={"PD_KEY": "pd-key-from-env"}, group_id="g1")
    (rt,) = seen
    assert (rt.alerts_topic, rt.dead_letter_topic, rt.silences_topic, rt.group_id) == ("a1", "d1", "s1", "g1")
    assert isinstance(rt.notifiers["pd"], PagerDutyNotifier)
    assert rt.redact("key pd-key-from-env") == "key [REDACTED]"  # the secret reached the redactor
    assert (rt.deliveries_topic, rt.deliveries.topic.topic) == ("l1", "l1")
    assert TopicSettings().deliveries == "glasswatch-alerts.deliveries"
    # no routes file: the defaults, secrets from the settings; no desktop outside local
    run_router(
        Settings(
            env="prod",
            notify=NotifySettings(pagerduty_routing_key=SecretStr("k"), slack_token=SecretStr("xoxb-1")),
        ),
        None,
        environ={},
    )
    assert set(seen[1].notifiers) == {"pagerduty", "slack", "log"}
    run_router(Settings(env="local"), None, environ={})
    assert set(seen[2].notifiers) == {"pagerduty", "slack", "log", "desktop"}
    assert isinstance(seen[2].notifiers["pagerduty"], LogNotifier)  # no key locally: the log stands in


def test_router_run_resolves_secrets_from_the_environment_cli_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glasswatch.agents.router import RouterRuntime
    from glasswatch.alerting.notify.pagerduty import PagerDutyNotifier

    seen: list[RouterRuntime] = []

    async def fake_run(self: RouterRuntime, stop: object = None) -> None:
        seen.append(self)

    monkeypatch.setattr(RouterRuntime, "run", fake_run)
    f = tmp_path / "routes.yaml"
    f.write_text(GOOD)
    args = ["router", "run", "--routes", str(f)]
    result = CliRunner().invoke(app, args, env={"GLASSWATCH_ENV": "prod", "PD_KEY": "k-123456"})
    assert result.exit_code == 0, result.output
    (rt,) = seen
    assert isinstance(rt.notifiers["pd"], PagerDutyNotifier)
    assert rt.redact("k-123456") == "[REDACTED]"
    monkeypatch.delenv("PD_KEY", raising=False)
    result = CliRunner().invoke(app, args, env={"GLASSWATCH_ENV": "prod"})
    assert isinstance(result.exception, ConfigError)
    assert "routing_key is not configured" in str(result.exception)
