"""The dashboard served by the worker: models, a model's signals, dead letters, plot scripts.

========================  ================================================================
``/``                     every model: events/s, rejects, open alerts by severity, last
                          window; the ingest consumer's lag
``/models/?name=<model>`` each signal's windows with its bands, alerts and detector firings
``/alerts/…``             :mod:`glasswatch.web.alerts`, with :meth:`Dashboard.alert_extras`
                          (plot of the signal around the alert, ack, forms) and the actions
                          of :mod:`glasswatch.web.actions`
``/dead-letters/``        a sample of the dead-letter topic per reason, with source coordinates
``/static/…``             ``plotly.min.js`` (the ``plotly`` package's own copy, never a CDN)
                          and ``dashboard.js``, with caching headers
========================  ================================================================

Model names come from producers, so a model is named in the query string (``qp``-encoded), never
in the path. The view is :class:`~glasswatch.web.history.DashboardState`, rebuilt at start from
the topics by :class:`~glasswatch.kafka.history.TailFollower` (:func:`attach_dashboard` starts it
as a Faust task).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from importlib import resources
from typing import Any

import faust

from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.alert import Alert, Severity
from glasswatch.schemas.baseline_accept import acceptable
from glasswatch.schemas.dead_letter import DeadLetter
from glasswatch.schemas.text import printable
from glasswatch.web.history import DashboardState
from glasswatch.web.plots import Figure, signal_figure, signal_series, stream_of
from glasswatch.web.templating import TEMPLATES, page_headers

__all__ = ["Dashboard", "LagReader", "attach_pages", "attach_static", "excerpt"]

log = logging.getLogger(__name__)

LagReader = Callable[[], Awaitable[dict[str, int] | None]]
"""Returns the ingest consumer's lag per input partition (None: not known yet)."""

_AROUND = 60  # windows on each side of an alert in its plot
_NOTICES = {
    "ack": "Acknowledged: the router stops escalating and tells Slack and PagerDuty.",
    "silence": "Silenced: notifications of this model, kind and signal are muted for the hours given.",
    "accept": "Accepted as the new normal: the alert resolves when the model's events reach that time.",
}


def excerpt(letter: DeadLetter, limit: int = 300) -> str:
    """The first characters of a dead letter's raw bytes, as printable text (escaped again by
    the template)."""
    try:
        raw = letter.raw_bytes()
    except ValueError:
        return "(unreadable raw bytes)"
    return printable(raw[: limit * 4].decode("utf-8", "replace"), limit=limit)


class Dashboard:
    """What the pages read: the topic view, the specs, the worker's partition states and lag."""

    def __init__(
        self,
        state: DashboardState,
        spec_for: Callable[[str], MonitorSpec],
        *,
        states: Callable[[], Mapping[str, PartitionState]] | None = None,
        lag: LagReader | None = None,
        dead_letter_tail: int = 0,
    ) -> None:
        self.state = state
        self.spec_for = spec_for
        self.states = states
        self.lag = lag
        self.dead_letter_tail = dead_letter_tail
        self.csrf = secrets.token_urlsafe(32)
        """The per-process token the action forms carry (:mod:`glasswatch.web.actions`)."""

    # -- pages -----------------------------------------------------------------------------
    async def render_home(self) -> str:
        st = self.state
        lag = await self.lag() if self.lag is not None else None
        partitions = list(self.states().values()) if self.states is not None else []
        rows = []
        for model in st.models():
            last = st.last_window(model)
            events = st.series(model, "events")
            rate = events[-1].signal("rate") if events and events[-1].seconds > 0 else None
            open_by = Counter(a.severity.value for a in st.open_alerts(model))
            rows.append({
                "name": model,
                "rate": "-" if rate is None else f"{rate:.3g}",
                "rejects": st.rejects_by_model.get(model, 0),
                "open": {s.value: open_by.get(s.value, 0) for s in Severity},
                "last_window": last.end.isoformat() if last else "-",
            })  # fmt: skip
        return TEMPLATES.get_template("home.html").render(
            models=rows,
            lag=lag,
            accepted=sum(p.accepted for p in partitions),
            rejected=sum(sum(p.rejects.values()) for p in partitions),
            open_total=len(st.open_alerts()),
            per_series=st.windows_per_series,
        )

    def render_model(self, model: str) -> str:
        st = self.state
        spec = self.spec_for(model)
        streams = [(s, st.series(model, s)) for s in st.streams(model)]
        alerts = list(st.alerts_of(model))
        signals = [{"name": s.name, "figure": signal_figure(s, alerts)} for s in signal_series(spec, streams)]
        last = st.last_window(model)
        acks = {fp: f"by {ack.by}" for fp, ack in st.acks.items()}
        return TEMPLATES.get_template("model.html").render(
            model=model,
            signals=signals,
            open_alerts=st.open_alerts(model),
            last_window=last.end.isoformat() if last else "-",
            acks={a.fingerprint: acks[a.fingerprint] for a in st.open_alerts(model) if st.ack_of(a)},
        )

    def render_dead_letters(self) -> str:
        st = self.state
        return TEMPLATES.get_template("dead_letters.html").render(
            topic=st.dead_letters_topic,
            tail=self.dead_letter_tail,
            sample=st.dead_letter_sample,
            counts=sorted(st.dead_letter_counts.items()),
            samples=st.dead_letters(),
            excerpt=excerpt,
        )

    async def alert_extras(self, history: list[Alert], query: Mapping[str, str]) -> dict[str, Any]:
        """The alert page's plot, ack, form token and the notice of an action just done (a fixed
        text: nothing of the query is shown; see :data:`~glasswatch.web.alerts.PageExtras`)."""
        a = history[-1]
        return {
            "figure": self.alert_figure(a, history),
            "ack": self.state.ack_of(a),
            "csrf": self.csrf,
            "acceptable": acceptable(a),
            "notice": _NOTICES.get(query.get("done", "")),
        }

    def alert_figure(self, alert: Alert, history: list[Alert]) -> Figure | None:
        """The alert's signal over the windows around it (None without windows of its stream)."""
        feature = alert.evidence.get("feature")
        stream = f"feature:{feature}" if isinstance(feature, str) else stream_of(alert.signal)
        windows = self.state.series(alert.model, stream)
        if not windows:
            return None
        at = alert.starts_at
        centre = min(range(len(windows)), key=lambda i: abs((windows[i].end - at) / timedelta(seconds=1)))
        shown = windows[max(0, centre - _AROUND) : centre + _AROUND + 1]
        for series in signal_series(self.spec_for(alert.model), [(stream, shown)]):
            if series.name == alert.signal:
                return signal_figure(series, history)
        return None


_STATIC_TYPES = {"plotly.min.js": "text/javascript", "dashboard.js": "text/javascript"}


def _static_file(name: str) -> bytes:
    if name == "plotly.min.js":  # the plotly package's bundled copy: one version with the stack
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return (resources.files("glasswatch.web") / "static" / name).read_bytes()


def attach_static(app: faust.App) -> None:
    """Serve ``/static/plotly.min.js`` and ``/static/dashboard.js`` (read once, ETag, cached a day)
    and an empty ``/favicon.ico`` (browsers ask for one)."""
    cache: dict[str, tuple[bytes, str]] = {}

    def load(name: str) -> tuple[bytes, str]:
        if name not in cache:
            body = _static_file(name)
            cache[name] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        return cache[name]

    @app.page("/static/{name}")
    async def static(view: Any, request: Any, name: str) -> Any:
        if name not in _STATIC_TYPES:
            return view.text("not found\n", status=404)
        body, etag = load(name)
        headers = {
            "Content-Type": f"{_STATIC_TYPES[name]}; charset=utf-8",
            "Cache-Control": "public, max-age=86400",
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("If-None-Match") == etag:
            return view.bytes(b"", status=304, headers=headers)
        return view.bytes(body, headers=headers)

    @app.page("/favicon.ico")
    async def favicon(view: Any, request: Any) -> Any:
        return view.bytes(b"", status=204, headers={"Cache-Control": "public, max-age=86400"})

    del static, favicon


def attach_pages(app: faust.App, dashboard: Dashboard) -> None:
    """Register ``/``, ``/models/`` and ``/dead-letters/``."""
    headers = page_headers()

    @app.page("/", name="glasswatch_home")
    async def home(view: Any, request: Any) -> Any:
        return view.html(await dashboard.render_home(), headers=headers)

    @app.page("/models/")
    async def model_page(view: Any, request: Any) -> Any:
        name = request.query.get("name", "")
        if not name or name not in dashboard.state.models():
            body = TEMPLATES.get_template("no_model.html").render(model=name)
            return view.html(body, status=404, headers=headers)
        return view.html(dashboard.render_model(name), headers=headers)

    @app.page("/dead-letters/")
    async def dead_letters(view: Any, request: Any) -> Any:
        return view.html(dashboard.render_dead_letters(), headers=headers)

    del home, model_page, dead_letters
