from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glasswatch.cli import app

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
        "glasswatch.core.matchers",
        "glasswatch.core.routes",
        "glasswatch.core.receivers",
        "glasswatch.core.grouping",
        "glasswatch.core.dedup",
        "glasswatch.core.silences",
        "glasswatch.core.inhibition",
        "glasswatch.core.escalation",
        "glasswatch.core.severity_rules",
        "glasswatch.core.notify",
        "glasswatch.core.dispatcher",
        "glasswatch.core.redaction",
        "glasswatch.adapters.slack_notifier",
        "glasswatch.adapters.slack_blocks",
        "glasswatch.adapters.pagerduty_notifier",
        "glasswatch.adapters.desktop_notifier",
        "glasswatch.adapters.log_notifier",
        "glasswatch.adapters.webhook_notifier",
        "glasswatch.adapters.notify_errors",
        "glasswatch.adapters.rate_limit",
        "glasswatch.adapters.notifiers",
        "glasswatch.adapters.compacted_topic",
        "glasswatch.adapters.silence_store",
        "glasswatch.adapters.router_runtime",
        "glasswatch.commands.routing",
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
