from __future__ import annotations

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.slack.blocks import MAX_ALERTS, render, top_features
from glasswatch.schemas.alert import Severity
from glasswatch.testing.routing import alert, resolved


def test_top_features_from_the_evidence_shapes() -> None:
    assert top_features(
        alert(evidence={"top_features": ["a", {"feature": "b", "score": 0.123456}, "c", "d"]})
    ) == [
        "a",
        "b (0.123)",
        "c",
    ]
    assert top_features(alert(evidence={"shap_top": [{"feature": "x", "value": 2}]})) == ["x (2)"]
    assert top_features(alert(evidence={"top_features": "not a list"})) == []


def test_worst_severity_leads_and_resolved_is_green() -> None:
    n = Notification(receiver="s", group_key="g", alerts=(alert("a"), alert("b", severity=Severity.CRITICAL)))
    text, blocks = render(n)
    assert text.startswith(":red_circle: [FIRING:2]")
    assert blocks[0]["type"] == "header"
    text, _ = render(Notification(receiver="s", group_key="g", alerts=(resolved(alert()),)))
    assert text.startswith(":large_green_circle: [RESOLVED:1]")


def test_large_groups_are_cut_and_counted() -> None:
    many = tuple(alert(f"feature:{i}") for i in range(MAX_ALERTS + 5))
    _, blocks = render(Notification(receiver="s", group_key="g", alerts=many))
    assert blocks[-1]["elements"][0]["text"] == "…and 5 more"
    assert len(blocks) <= 50  # Slack's limit
