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
        "glasswatch.agents.router_state",
        "glasswatch.alerting.state_book",
        "glasswatch.alerting.offsets",
        "glasswatch.kafka.router_state",
        "glasswatch.kafka.delivery_store",
        "glasswatch.kafka.ack_store",
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
    # acks are followed and the router's state kept, in topics that follow the alerts topic
    assert rt.side.acks is not None and rt.side.acks.follower.topic == "a1.acks"
    assert rt.side.state is not None and rt.side.state.topic.topic == "a1.router-state"
    assert TopicSettings().router_state == "glasswatch-alerts.router-state"
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


PD = "{name: pd, kind: pagerduty, routing_key: k"
SL = "{name: s, kind: slack, channel: '#x', token: t"


@pytest.mark.parametrize(
    ("receiver", "problem"),
    [
        (f"{PD}, url: 'http://events.local'}}", "must start with https://"),
        (f"{PD}, url: 'HTTPS://events.local'}}", "must start with https://"),
        (f"{PD}, url: 'https://'}}", "not a well-formed URL"),
        (f"{SL}, api_url: 'ftp://slack.local/api/'}}", "http:// or https://"),
        (f"{SL}, api_url: 'https://slack.local/api'}}", "must end with /"),
        (f"{SL}, api_url: 'http://sl ack/api/'}}", "not a well-formed"),
        (f"{SL}, api_url: 'http://h:99999/api/'}}", "not a well-formed"),
        ("{name: h, kind: webhook, url: 'file:///etc/CANARY'}", "http:// or https://"),
    ],
)
def test_routes_check_refuses_receiver_urls_the_clients_cannot_use(
    tmp_path: Path, receiver: str, problem: str
) -> None:
    f = tmp_path / "routes.yaml"
    f.write_text(f"receivers:\n  - {{name: log, kind: log}}\n  - {receiver}\nroute: {{receiver: log}}\n")
    result = CliRunner().invoke(app, ["routes", "check", str(f)])
    assert result.exit_code == 1, result.output
    assert f"{f}:3:" in result.output and problem in result.output
    assert "CANARY" not in result.output  # a webhook URL is a secret


def test_routes_check_accepts_good_urls(tmp_path: Path) -> None:
    f = tmp_path / "routes.yaml"
    f.write_text(
        "receivers:\n"
        '  - {name: pd, kind: pagerduty, routing_key: k, url: "https://events.eu.pagerduty.com"}\n'
        '  - {name: s, kind: slack, channel: "#x", token: t, api_url: "http://127.0.0.1:8080/api/"}\n'
        '  - {name: h, kind: webhook, url: "https://hooks.local/x?token=1"}\n'
        "route: {receiver: pd}\n"
    )
    result = CliRunner().invoke(app, ["routes", "check", str(f)])
    assert result.exit_code == 0, result.output


def test_router_run_with_an_http_pagerduty_url_is_one_line_and_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from glasswatch.cli import main

    f = tmp_path / "routes.yaml"
    f.write_text(GOOD.replace("routing_key: {env: PD_KEY}", 'routing_key: k, url: "http://events.local"'))
    monkeypatch.setenv("GLASSWATCH_ENV", "prod")
    monkeypatch.setattr(sys, "argv", ["glasswatch", "router", "run", "--routes", str(f)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {f}:2:")
    assert "must start with https://" in err and "Traceback" not in err


def test_a_webhook_url_from_the_environment_is_checked_at_start_without_quoting_it() -> None:
    from glasswatch.alerting.notify.build import build_notifiers
    from glasswatch.alerting.routes import load_routing

    cfg = load_routing("receivers: [{name: h, kind: webhook, url: {env: HOOK}}]\nroute: {receiver: h}\n")
    with pytest.raises(ConfigError, match="receiver h: url must be an http") as info:
        build_notifiers(cfg, {"HOOK": "gopher://hooks.local/CANARY"}, env="prod")
    assert "CANARY" not in str(info.value)


def test_silence_list_columns_line_up_whatever_the_values() -> None:
    import unicodedata
    from datetime import UTC, datetime, timedelta

    from glasswatch.alerting.silence import Silence
    from glasswatch.commands.silence import render_silences

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    now = datetime(2026, 1, 1, tzinfo=UTC)
    made = [
        ("a1", "ana", ['model="churn"'], "retraining"),
        ("b2", "李小龙", ['model="模型"', 'signal=~"feature:.*"'], "中文"),
        ("c3", "x\x1b[2J" * 30, [f'model="{"m" * 300}"'], "y" * 500),
        ("d" * 32, "é", ['kind="data_drift"'], ""),
    ]
    silences = [
        Silence.create(matchers=m, starts_at=now, ends_at=now + timedelta(hours=1), created_by=by,
                       comment=c, id=i)
        for i, by, m, c in made
    ]
    lines = render_silences(silences, now + timedelta(minutes=1)).splitlines()
    header, rows = lines[0], lines[1:]
    assert len(rows) == 4
    columns = ("STATE", "ENDS_AT", "BY", "MATCHERS", "COMMENT")
    starts = [width(header[: header.index(name)]) for name in columns]
    for row in rows:
        ends_at = row.index("2026-")
        by_at = ends_at + len("2026-01-01T01:00:00+00:00  ")
        matchers_at = row.index("model=" if "model=" in row else "kind=", by_at)
        found = [row.index("active"), ends_at, by_at, matchers_at]
        assert [width(row[:i]) for i in found] == starts[:4], row
        assert row[by_at] != " "
        assert width(row) <= starts[4] + 80
    assert all(width(line) < 260 for line in lines)  # bounded widths
    assert "…" in rows[2] and "\x1b" not in "".join(lines)
