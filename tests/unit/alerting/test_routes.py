from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from glasswatch.alerting.notify.receivers import PagerDutyReceiver, SecretRef, SlackReceiver, WebhookReceiver
from glasswatch.alerting.route_tree import parse_duration
from glasswatch.alerting.routes import default_routing, load_routing, load_routing_file
from glasswatch.errors import ConfigError

TREE = """\
receivers:
  - {name: pd, kind: pagerduty, routing_key: {env: PD_KEY}}
  - {name: slack, kind: slack, channel: "#ml", token: xoxb-literal}
  - {name: hook, kind: webhook, url: {env: HOOK_URL}}
  - {name: log, kind: log}
route:
  receiver: log
  group_by: [model]
  group_wait: 10s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pd
      continue: true
      routes:
        - matchers: ['model="fraud"']
          receiver: hook
          group_interval: 1m
    - matchers: ['severity=~"warning|critical"']
      receiver: slack
    - matchers: ['kind="quality_gate"']
      receiver: hook
"""


def receivers(cfg_text: str, labels: dict[str, str]) -> list[str]:
    return [r.receiver for r in load_routing(cfg_text).route.match(labels)]


def test_first_match_wins_unless_continue() -> None:
    assert receivers(TREE, {"severity": "critical", "model": "churn"}) == ["pd", "slack"]
    assert receivers(TREE, {"severity": "warning", "kind": "quality_gate"}) == ["slack"]
    assert receivers(TREE, {"severity": "info", "kind": "quality_gate"}) == ["hook"]
    assert receivers(TREE, {"severity": "info"}) == ["log"]  # no child matched: the root does


def test_deepest_match_and_inheritance() -> None:
    cfg = load_routing(TREE)
    (fraud, slack) = cfg.route.match({"severity": "critical", "model": "fraud"})
    assert fraud.receiver == "hook"
    assert fraud.id == "/0/0"
    assert fraud.group_by == ("model",)
    assert fraud.group_wait == timedelta(seconds=10)
    assert fraud.group_interval == timedelta(minutes=1)
    assert fraud.repeat_interval == timedelta(hours=1)
    assert slack.group_interval == timedelta(minutes=5)  # Alertmanager default where nobody set it


def test_receivers_and_secrets() -> None:
    cfg = load_routing(TREE)
    pd = cfg.receiver("pd")
    assert isinstance(pd, PagerDutyReceiver)
    assert pd.routing_key.resolve({"PD_KEY": "k-123"}) == SecretStr("k-123")
    assert pd.routing_key.resolve({}) is None
    slack = cfg.receiver("slack")
    assert isinstance(slack, SlackReceiver)
    assert slack.token.resolve({}) == SecretStr("xoxb-literal")
    assert "xoxb-literal" not in repr(cfg)
    assert isinstance(cfg.receiver("hook"), WebhookReceiver)


def test_secret_ref_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SecretRef(value=SecretStr("a"), env="B")


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (("group_wait: 10s", "group_wait: 10 parsecs"), r"x\.yaml:9:15: route\.group_wait: .*bad duration"),
        (
            ("receiver: slack\n", "receiver: slack\n      frobnicate: 1\n"),
            r"x\.yaml:21:19: route\.routes\[1\]\.frobnicate: Extra inputs",
        ),
        (("kind: pagerduty, ", "kind: pagerdoody, "), r"x\.yaml:2:5: receivers\[0\]"),
        (('channel: "#ml", ', ""), r"x\.yaml:3:5: receivers\[1\]\.?.*: Field required"),
        (
            ("['kind=\"quality_gate\"']", "['kind=\"quality_gate\"', 5]"),
            r"x\.yaml:21:17: route\.routes\[2\]\.matchers: .*bad matcher 5",
        ),
        (("receiver: pd\n", "receiver: nobody\n"), r"x\.yaml:1: route /0: receiver 'nobody' is not defined"),
    ],
)
def test_errors_name_file_line_and_field(mutation: tuple[str, str], expected: str) -> None:
    text = TREE.replace(*mutation)
    assert text != TREE
    with pytest.raises(ConfigError, match=expected):
        load_routing(text, source="x.yaml")


def test_bad_matcher_string_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"x\.yaml.*bad matcher"):
        load_routing(TREE.replace('severity="critical"', "severity"), source="x.yaml")


def test_load_file_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "routes.yaml"
    p.write_text(TREE)
    assert load_routing_file(p).route.receiver == "log"
    with pytest.raises(ConfigError, match="cannot read"):
        load_routing_file(tmp_path / "nope.yaml")
    p.write_text("route: [unclosed")
    with pytest.raises(ConfigError, match=r"routes\.yaml:\d+: not valid YAML"):
        load_routing_file(p)


def test_default_routing() -> None:
    local = default_routing("local")
    assert [r.receiver for r in local.route.match({"severity": "warning"})] == ["slack", "desktop", "log"]
    assert [r.receiver for r in local.route.match({"severity": "info"})] == ["desktop", "log"]
    prod = default_routing("prod")
    assert [r.receiver for r in prod.route.match({"severity": "critical"})] == ["pagerduty", "log"]
    assert {r.name for r in prod.receivers} == {"pagerduty", "slack", "log"}
    assert prod.route.routes[0].group_wait == timedelta(seconds=30)
    assert prod.route.routes[0].repeat_interval == timedelta(hours=4)


def test_render_shows_the_tree() -> None:
    text = load_routing(TREE).route.render()
    assert text.splitlines()[0].startswith("* → log (group_by=model wait=10s interval=5m repeat=1h)")
    assert '    model="fraud" → hook' in text
    assert "continue" in text.splitlines()[1]


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("4h", 14400), ("1h30m", 5400), ("250ms", 0.25), (12, 12)]
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "5", "m", "1d", "-3s"])
def test_parse_duration_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(bad)
