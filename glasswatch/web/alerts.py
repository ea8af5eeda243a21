"""Alert pages and playbooks served by the worker: every alert's dashboard and playbook links work.

``/alerts/`` lists recent alerts, ``/alerts/<fingerprint>/`` shows one condition's history with its
evidence, lineage and replay command, ``/playbooks/<kind>.md`` serves the playbook. The worker
remembers the alerts it emitted (bounded); older ones are looked up in the alerts topic.
"""

from __future__ import annotations

import html
import json
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Any

import faust

from glasswatch.schemas.alert import Alert

__all__ = ["AlertBook", "playbook_text", "render_alert_page", "render_index"]

_REPO_PLAYBOOKS = Path(__file__).resolve().parents[2] / "docs" / "playbooks"


class AlertBook:
    """The last ``capacity`` alert conditions (by fingerprint), each with its firing/resolved history.

    >>> from datetime import datetime, timezone
    >>> from glasswatch.schemas import AlertKind, Severity
    >>> book = AlertBook(capacity=1)
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = Alert.build(kind=AlertKind.EVENT_RATE, severity=Severity.WARNING, model="m",
    ...                 signal="events:rate", summary="rate dropped", starts_at=t)
    >>> book.add(a); book.add(a); len(book.history(a.fingerprint))
    1
    """

    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self._by_fp: OrderedDict[str, dict[str, Alert]] = OrderedDict()

    def add(self, alert: Alert) -> None:
        entries = self._by_fp.setdefault(alert.fingerprint, {})
        entries[alert.id] = alert  # a re-sent alert (same id) replaces itself
        self._by_fp.move_to_end(alert.fingerprint)
        while len(self._by_fp) > self.capacity:
            self._by_fp.popitem(last=False)

    def history(self, fingerprint: str) -> list[Alert]:
        return sorted(
            self._by_fp.get(fingerprint, {}).values(), key=lambda a: (a.ends_at or a.starts_at, a.status)
        )

    def latest(self) -> list[Alert]:
        return [self.history(fp)[-1] for fp in reversed(self._by_fp)]


def playbook_text(kind: str) -> str | None:
    """The playbook markdown of an alert kind: packaged copy, else the source checkout's docs/."""
    name = f"{kind}.md"
    if not name.replace("_", "").replace(".", "").isalnum():
        return None
    try:
        return (resources.files("glasswatch") / "playbooks" / name).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, OSError):
        pass
    path = _REPO_PLAYBOOKS / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
    ".firing{color:#b00}.resolved{color:#070}code,pre{background:#f4f4f4;padding:.2rem}"
)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def render_index(alerts: list[Alert]) -> str:
    rows = "".join(
        f"<tr><td class='{a.status.value}'>{a.status.value}</td><td>{a.severity.value}</td>"
        f"<td>{html.escape(a.model)}</td><td>{a.kind.value}</td><td>{html.escape(a.signal)}</td>"
        f"<td><a href='/alerts/{a.fingerprint}/'>{html.escape(a.summary)}</a></td>"
        f"<td>{a.starts_at.isoformat()}</td></tr>"
        for a in alerts
    )
    cols = ("status", "severity", "model", "kind", "signal", "summary", "since")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    return _page("glasswatch alerts", f"<h1>Alerts</h1><table id='alerts'>{head}{rows}</table>")


def render_alert_page(history: list[Alert]) -> str:
    a = history[-1]
    evidence = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in a.evidence.items()
    )
    lineage = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in a.lineage.model_dump(mode="json").items()
    )
    events = "".join(
        f"<li class='{h.status.value}'>{h.status.value} at {(h.ends_at or h.starts_at).isoformat()} "
        f"(severity {h.severity.value}, id <code>{h.id}</code>)</li>"
        for h in history
    )
    mlflow = f" · <a href='{html.escape(a.links.mlflow_run)}'>MLflow run</a>" if a.links.mlflow_run else ""
    body = (
        f"<p><a href='/alerts/'>all alerts</a></p>"
        f"<h1 class='{a.status.value}' id='summary'>{html.escape(a.summary)}</h1>"
        f"<p>model <b>{html.escape(a.model)}</b> · kind <b>{a.kind.value}</b> · signal "
        f"<code>{html.escape(a.signal)}</code> · severity <b>{a.severity.value}</b> · status "
        f"<b id='status'>{a.status.value}</b></p>"
        f"<p><a id='playbook' href='{html.escape(a.links.playbook)}'>playbook</a>{mlflow}</p>"
        f"<h2>Evidence</h2><table id='evidence'>{evidence}</table>"
        f"<h2>Lineage</h2><table id='lineage'>{lineage}</table>"
        f"<h2>Reproduce</h2><pre id='replay'>{html.escape(a.replay_command or '(no replay command)')}</pre>"
        f"<h2>History</h2><ul>{events}</ul>"
    )
    return _page(f"{a.kind.value}: {a.summary}", body)


def attach_alert_pages(app: faust.App, book: AlertBook, load_from_topic: Any = None) -> None:
    """Register the pages on a Faust app (``load_from_topic(fp)`` finds alerts this worker forgot)."""

    @app.page("/alerts/")
    async def alerts_index(view: Any, request: Any) -> Any:
        return view.html(render_index(book.latest()))

    @app.page("/alerts/{fingerprint}/")
    async def alert_page(view: Any, request: Any, fingerprint: str) -> Any:
        history = book.history(fingerprint)
        if not history and load_from_topic is not None:
            for alert in await load_from_topic(fingerprint):
                book.add(alert)
            history = book.history(fingerprint)
        if not history:
            return view.html(
                _page("unknown alert", f"<h1>No alert {html.escape(fingerprint)}</h1>"), status=404
            )
        return view.html(render_alert_page(history))

    @app.page("/playbooks/{name}")
    async def playbook(view: Any, request: Any, name: str) -> Any:
        text = playbook_text(name.removesuffix(".md"))
        if text is None:
            return view.text(f"no playbook {name}\n", status=404)
        return view.html(_page(name, f"<pre id='playbook-text'>{html.escape(text)}</pre>"))

    del alerts_index, alert_page, playbook
