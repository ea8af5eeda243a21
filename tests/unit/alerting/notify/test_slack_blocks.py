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


def _mrkdwn(blocks: list[dict[str, object]]) -> str:
    out = []
    for b in blocks:
        text = b.get("text")
        if isinstance(text, dict) and text.get("type") == "mrkdwn":
            out.append(str(text["text"]))
        for el in b.get("elements", []):  # type: ignore[attr-defined]
            out.append(str(el["text"]))
    return "\n".join(out)


def test_names_from_the_data_are_escaped_for_mrkdwn() -> None:
    """A column named ``<!channel>`` or ``<https://evil|docs>`` must not ping or link (issue 10)."""
    feature = "<!channel> & <https://evil.example|docs>"
    a = alert(
        f"feature:{feature}:mean",
        evidence={"top_features": [{"feature": feature, "score": 0.5}, "mean radius"]},
        lineage={"model_version": "7<b>"},
        replay_command="glasswatch replay --model m <&>",
    ).model_copy(update={"summary": f"{feature} drifted"})
    text, blocks = render(Notification(receiver="s", group_key="g", alerts=(a,)))
    shown = _mrkdwn(blocks)
    escaped = "&lt;!channel&gt; &amp; &lt;https://evil.example|docs&gt;"
    assert f"`feature:{escaped}:mean`" in shown
    assert f"{escaped} drifted" in shown and f"Top features: {escaped} (0.5), mean radius" in shown
    assert "Model version: 7&lt;b&gt;" in shown and "--model m &lt;&amp;&gt;```" in shown
    assert f"{escaped} drifted" in text
    links = [el["text"] for b in blocks if b["type"] == "context" for el in b["elements"]]
    raw = (shown + text).replace(links[0], "")  # glasswatch's own links keep their <url|label>
    assert "<" not in raw and ">" not in raw
    assert raw.count("&") == raw.count("&amp;") + raw.count("&lt;") + raw.count("&gt;")
    assert blocks[0]["text"]["text"].startswith("[FIRING:1]")  # plain_text header: not escaped


def test_cutting_never_splits_an_escape() -> None:
    a = alert("feature:x").model_copy(update={"summary": "<" * 5000})
    text, blocks = render(Notification(receiver="s", group_key="g", alerts=(a,)))
    for t in (text, blocks[1]["text"]["text"]):
        assert t.endswith("&lt;") and len(t) <= 3000
