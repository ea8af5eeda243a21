"""Alert pages and playbooks served by the worker: every alert's dashboard and playbook links work.

``/alerts/`` lists recent alerts, ``/alerts/<fingerprint>/`` shows one condition's history with its
evidence, labels, lineage and replay command, ``/playbooks/<kind>.md`` serves the playbook. The
worker remembers the alerts it emitted (bounded); older ones are looked up in the alerts topic.

Everything on these pages may come from a producer (anyone who can write the alerts topic), so
the HTML is rendered by Jinja2 templates (``web/templates/``, :mod:`glasswatch.web.templating`)
with autoescape on, links are shown only when they are http(s) (the contract refuses others too),
and a record on the alerts topic that is not a valid alert is skipped and counted, never a 500.

The dashboard (:mod:`glasswatch.web.dashboard`) adds to the alert page through ``extras``: the
plot of the signal around the alert, its acknowledgement and the ack and silence forms.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import faust
import pydantic

from glasswatch.errors import BrokerError
from glasswatch.schemas.alert import FINGERPRINT_HEX, Alert
from glasswatch.schemas.text import printable
from glasswatch.web.templating import TEMPLATES as _TEMPLATES
from glasswatch.web.templating import page_headers, safe_link

__all__ = [
    "AlertBook",
    "AlertLoader",
    "PageExtras",
    "attach_alert_pages",
    "playbook_text",
    "render_alert_page",
    "render_index",
    "render_missing",
    "render_playbook",
    "safe_link",
    "topic_loader",
]

log = logging.getLogger(__name__)

_REPO_PLAYBOOKS = Path(__file__).resolve().parents[2] / "docs" / "playbooks"
_FINGERPRINT = re.compile(rf"[0-9a-f]{{{FINGERPRINT_HEX}}}")

AlertLoader = Callable[[str], Awaitable[list[Alert]]]
"""``load(fingerprint)``: the alerts of one condition that this worker no longer remembers."""

PageExtras = Callable[[list[Alert], Mapping[str, str]], Awaitable[dict[str, Any]]]
"""``extras(history, query)``: more context for the alert page template (plot, ack, forms)."""


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

    Records read back from the alerts topic go through :meth:`parse`: a record that is not a
    valid alert is skipped and counted (logged once per book), never raised.

    >>> book.parse(b"not json") is None, book.parse(a.model_dump_json().encode()) == a, book.skipped
    (True, True, 1)
    """

    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self.skipped = 0
        """Records of the alerts topic that were not valid alerts (not JSON, refused by the contract)."""
        self._by_fp: OrderedDict[str, dict[str, Alert]] = OrderedDict()

    def parse(self, value: bytes | str | Mapping[str, Any] | None) -> Alert | None:
        """The alert in one alerts-topic record (its value, raw or decoded), or None when the
        record is not a valid alert: counted in :attr:`skipped`, the first one logged."""
        try:
            if isinstance(value, Mapping):
                return Alert.model_validate(value)
            if value is None:
                raise ValueError("empty record")
            return Alert.model_validate_json(value)
        except (pydantic.ValidationError, ValueError) as exc:
            self.skipped += 1
            if self.skipped == 1:
                log.warning(
                    "skipping records of the alerts topic that are not valid alerts (first: %s); "
                    "later ones are only counted",
                    _why(exc),
                )
            return None

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


def _why(exc: Exception) -> str:
    """One short, printable line on why a record is not an alert."""
    if isinstance(exc, pydantic.ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(record)"
        return printable(f"{where}: {first['msg']}", limit=200)
    return printable(str(exc), limit=200)


def playbook_text(kind: str) -> str | None:
    """The playbook markdown of an alert kind (or ``README``, the list of playbooks): packaged
    copy, else the source checkout's docs/."""
    if re.fullmatch(r"[a-z0-9_]+|README", kind) is None:
        return None
    name = f"{kind}.md"
    try:
        return (resources.files("glasswatch") / "playbooks" / name).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, OSError):
        pass
    path = _REPO_PLAYBOOKS / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def render_index(alerts: list[Alert]) -> str:
    """``/alerts/``: the latest alert of each remembered condition."""
    return _TEMPLATES.get_template("index.html").render(alerts=alerts)


def render_alert_page(history: list[Alert], **extras: Any) -> str:
    """``/alerts/<fingerprint>/``: the latest alert of a condition with its evidence, labels,
    lineage, replay command and history (``extras``: see :data:`PageExtras`; ``figure``, ``ack``,
    ``csrf`` (the form token; no forms without it), ``model_url``)."""
    a = history[-1]
    lineage = a.lineage.model_dump(mode="json")
    context: dict[str, Any] = {"figure": None, "ack": None, "csrf": None, "notice": None}
    context.update(extras)
    return _TEMPLATES.get_template("alert.html").render(a=a, history=history, lineage=lineage, **context)


def render_missing(fingerprint: str) -> str:
    """The 404 page of an unknown fingerprint."""
    return _TEMPLATES.get_template("missing.html").render(fingerprint=fingerprint)


def render_playbook(name: str, text: str) -> str:
    """A playbook page: the markdown rendered as HTML (raw HTML in it escaped)."""
    return _TEMPLATES.get_template("playbook.html").render(name=name, text=text)


def topic_loader(bootstrap: str, topic: str, book: AlertBook, *, timeout_s: float = 10.0) -> AlertLoader:
    """An :data:`AlertLoader` that reads the alerts topic to its end and keeps the valid alerts of
    the fingerprint asked for (bad records are skipped and counted in ``book``); an unreachable
    broker gives no alerts (logged), not an error page."""

    async def load(fingerprint: str) -> list[Alert]:
        from glasswatch.kafka.reader import read_topic

        try:
            records = await read_topic(bootstrap, topic, timeout_s=timeout_s)
        except BrokerError:
            log.warning("alerts topic %s unreadable for alert %s", topic, fingerprint)
            return []
        found = []
        for rec in records:
            if rec.key is not None and rec.key != fingerprint.encode():
                continue  # alerts are keyed by fingerprint: skip others without parsing them
            alert = book.parse(rec.value)
            if alert is not None and alert.fingerprint == fingerprint:
                found.append(alert)
        return found

    return load


def attach_alert_pages(
    app: faust.App,
    book: AlertBook,
    load_from_topic: AlertLoader | None = None,
    extras: PageExtras | None = None,
) -> None:
    """Register the pages on a Faust app (``load_from_topic(fp)`` finds alerts this worker forgot;
    see :func:`topic_loader`; ``extras``: see :data:`PageExtras`)."""
    headers = page_headers()

    @app.page("/alerts/")
    async def alerts_index(view: Any, request: Any) -> Any:
        return view.html(render_index(book.latest()), headers=headers)

    @app.page("/alerts/{fingerprint}/")
    async def alert_page(view: Any, request: Any, fingerprint: str) -> Any:
        if _FINGERPRINT.fullmatch(fingerprint) is None:  # not a fingerprint: no topic scan
            return view.html(render_missing(fingerprint), status=404, headers=headers)
        history = book.history(fingerprint)
        if not history and load_from_topic is not None:
            for alert in await load_from_topic(fingerprint):
                book.add(alert)
            history = book.history(fingerprint)
        if not history:
            return view.html(render_missing(fingerprint), status=404, headers=headers)
        more = await extras(history, request.query) if extras is not None else {}
        return view.html(render_alert_page(history, **more), headers=headers)

    @app.page("/playbooks/{name}")
    async def playbook(view: Any, request: Any, name: str) -> Any:
        text = playbook_text(name.removesuffix(".md"))
        if text is None:
            return view.text(f"no playbook {name}\n", status=404)
        return view.html(render_playbook(name, text), headers=headers)

    del alerts_index, alert_page, playbook
