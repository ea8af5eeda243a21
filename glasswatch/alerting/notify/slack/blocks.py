"""Block Kit for one alert group: what, where, how bad, top features, links, replay command.

Every string that comes from producers or the data (model, signal, summary, feature names, model
version, replay command) is escaped for Slack's ``mrkdwn`` (:func:`mrkdwn_escape`: ``&``, ``<``,
``>`` as ``&amp;``, ``&lt;``, ``&gt;``, as Slack asks), so a column named ``<!channel>`` or
``<https://evil|docs>`` shows as written instead of pinging a channel or making a link; the
``plain_text`` header needs no escaping. The links are glasswatch's own validated http(s) URLs.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.alerting.notify.base import Notification
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> a = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.CRITICAL, model="churn",
...                 signal="feature:age", summary="age drifted (PSI 0.31)",
...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                 evidence={"top_features": [{"feature": "age", "score": 0.31}, "income"]},
...                 replay_command="glasswatch replay --from 10 --to 99")
>>> text, blocks = render(Notification(receiver="slack", group_key="g", alerts=(a,)))
>>> text
':red_circle: [FIRING:1] churn data_drift — age drifted (PSI 0.31)'
>>> [b["type"] for b in blocks]
['header', 'section', 'context', 'section', 'divider']
>>> mrkdwn_escape("a <!channel> & <b>")
'a &lt;!channel&gt; &amp; &lt;b&gt;'
"""

from __future__ import annotations

from typing import Any

from glasswatch.alerting.notify.base import Notification
from glasswatch.schemas.alert import Alert, AlertStatus, Severity

__all__ = ["MAX_ALERTS", "judged_against", "mrkdwn_escape", "render", "top_features"]

MAX_ALERTS = 10
"""Alerts shown per message (Slack allows 50 blocks); the rest are counted."""
_ICON = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":information_source:",
}


def mrkdwn_escape(text: str) -> str:
    """``text`` with the three characters Slack's ``mrkdwn`` parses as markup escaped
    (``&`` first, so an escape is never escaped twice)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters, never inside an ``&amp;``/``&lt;``/``&gt;`` escape."""
    if len(text) <= n:
        return text
    cut = text[:n]
    amp = cut.rfind("&", max(0, n - 4))
    return cut[:amp] if amp >= 0 and ";" not in cut[amp:] else cut


def top_features(alert: Alert, k: int = 3) -> list[str]:
    """Up to ``k`` "feature (score)" strings from ``evidence`` (``top_features``,
    ``drifted_features`` or ``shap_top``; items are names or ``{"feature", "score"}``)."""
    raw: Any = None
    for key in ("top_features", "drifted_features", "shap_top"):
        raw = alert.evidence.get(key)
        if raw:
            break
    out: list[str] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and "feature" in item:
            score = item.get("score", item.get("value"))
            out.append(
                f"{item['feature']} ({score:.3g})" if isinstance(score, int | float) else str(item["feature"])
            )
        elif isinstance(item, str):
            out.append(item)
        if len(out) == k:
            break
    return out


def judged_against(alert: Alert) -> str | None:
    """One line on what an online-detection alert was judged against, from its evidence:
    the baseline (learned, a reference's version, accepted), the rule and its calibrated
    false-alarm rate; ``None`` for alerts without it.

    >>> from datetime import datetime, timezone
    >>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
    >>> a = Alert.build(kind=AlertKind.DRIFT_DETECTOR, severity=Severity.WARNING, model="m",
    ...                 signal="feature:x:mean", summary="s",
    ...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...                 evidence={"baseline": "reference", "reference_version": "3",
    ...                           "rule": {"family": "page_hinkley", "false_alarms_per_100k": 0.2}})
    >>> print(judged_against(a))  # doctest: +NORMALIZE_WHITESPACE
    Judged against: the reference of version 3 · rule page_hinkley (calibrated: 0.2 false alarms per
    100k events)
    """
    ev = alert.evidence
    baseline = ev.get("baseline")
    if not isinstance(baseline, str):
        return None
    what = {
        "learned": "a baseline learned from the first windows",
        "accepted": "a level accepted as the new normal",
        "configured": "configured bounds",
    }.get(baseline, baseline)
    if baseline == "reference":
        what = f"the reference of version {ev.get('reference_version', '?')}"
    rule = ev.get("rule")
    if isinstance(rule, dict) and isinstance(rule.get("family"), str):
        what += f" · rule {rule['family']}"
        rate = rule.get("false_alarms_per_100k")
        if isinstance(rate, int | float):
            what += f" (calibrated: {rate:.2g} false alarms per 100k events)"
    return f"Judged against: {what}"


def _links(alert: Alert) -> str:
    parts = [f"<{alert.links.dashboard}|dashboard>", f"<{alert.links.playbook}|playbook>"]
    if alert.links.mlflow_run:
        parts.append(f"<{alert.links.mlflow_run}|MLflow run>")
    return " · ".join(parts)


def _alert_blocks(alert: Alert) -> list[dict[str, Any]]:
    state = "RESOLVED" if alert.status is AlertStatus.RESOLVED else alert.severity.value.upper()
    esc = mrkdwn_escape
    lines = [
        f"*{state}* · `{esc(alert.model)}` · {alert.kind.value} · `{esc(alert.signal)}`",
        esc(alert.summary),
    ]
    feats = top_features(alert)
    if feats:
        lines.append("Top features: " + ", ".join(esc(f) for f in feats))
    if alert.lineage.model_version:
        lines.append(f"Model version: {esc(alert.lineage.model_version)}")
    if judged := judged_against(alert):
        lines.append(esc(judged))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines), 2900)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _links(alert)}]},
    ]
    if alert.replay_command:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"Replay: ```{_clip(esc(alert.replay_command), 2800)}```"},
            }
        )
    blocks.append({"type": "divider"})
    return blocks


def render(n: Notification) -> tuple[str, list[dict[str, Any]]]:
    """The fallback ``text`` and the ``blocks`` of a message for notification ``n``."""
    firing, resolved = n.firing, n.resolved
    first = (firing or resolved)[0]
    worst = max((a.severity for a in firing), key=list(Severity).index, default=first.severity)
    head = f"[FIRING:{len(firing)}]" if firing else f"[RESOLVED:{len(resolved)}]"
    icon = _ICON[worst] if firing else ":large_green_circle:"
    where = " ".join(dict.fromkeys(v for v in (first.model, first.kind.value) if v))
    text = _clip(f"{icon} {head} {mrkdwn_escape(where)} — {mrkdwn_escape(first.summary)}", 3000)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{head} {where}"[:150]}}
    ]
    shown = [*firing, *resolved][:MAX_ALERTS]
    for alert in shown:
        blocks.extend(_alert_blocks(alert))
    hidden = len(n.alerts) - len(shown)
    if hidden > 0:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {hidden} more"}]})
    return text, blocks
