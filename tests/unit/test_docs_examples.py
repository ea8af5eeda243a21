"""The example configuration files in docs/ load and mean what their comments say."""

from __future__ import annotations

from pathlib import Path

from glasswatch.alerting.routes import load_routing

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_example_routes_send_critical_to_pagerduty_and_slack_and_warnings_to_slack() -> None:
    cfg = load_routing((DOCS / "routes.example.yaml").read_text())
    assert [r.receiver for r in cfg.route.match({"severity": "critical", "model": "m"})] == [
        "oncall",
        "ml-team",
    ]
    assert [r.receiver for r in cfg.route.match({"severity": "warning", "model": "m"})] == ["ml-team"]
    assert [r.receiver for r in cfg.route.match({"severity": "info", "model": "m"})] == ["log"]
