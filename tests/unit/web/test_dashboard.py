"""Dashboard pages without a broker: the topic view, plots, escaping, static files and actions."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import faust
from aiohttp.test_utils import TestClient, TestServer

from glasswatch.alerting.silence import Silence
from glasswatch.monitor.replay import Message
from glasswatch.monitor.specs import MonitorSpec, SignalSpec, StaticBounds
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Severity
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.dead_letter import DeadLetter
from glasswatch.web.actions import attach_actions
from glasswatch.web.alerts import AlertBook, attach_alert_pages
from glasswatch.web.dashboard import Dashboard, attach_pages, attach_static
from glasswatch.web.history import DashboardState
from glasswatch.web.plots import signal_figure, signal_series

T0 = datetime(2026, 1, 1, tzinfo=UTC)
XSS = '<script>document.title="pwned"</script>"onmouseover="alert(1)\' </script><img src=x onerror=alert(2)>'
OUR_SCRIPTS = {"/static/plotly.min.js", "/static/dashboard.js"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._in_script: dict[str, str] | None = None
        self.json_blocks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "script":
            self._in_script = a

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            assert self._in_script.get("type") == "application/json", "inline script code"
            self.json_blocks.append(data)
        else:
            self.text.append(data)


def assert_harmless(page: str) -> _Page:
    """Only our two script files and JSON data blocks; no handler attribute, no foreign URL."""
    p = _Page()
    p.feed(page)
    p.close()
    for tag, attrs in p.tags:
        assert tag not in ("img", "iframe", "object", "embed"), tag
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src") in OUR_SCRIPTS or attrs.get("type") == "application/json", attrs
        for k in ("href", "src", "action"):
            if k in attrs:
                assert attrs[k].strip().lower().startswith(("/", "http://", "https://", "#")), attrs
    for block in p.json_blocks:
        json.loads(block)  # data, whole: no record closed the block early
    return p


def _summary(model: str, stream: str, i: int, mean: float) -> WindowSummary:
    start = T0 + timedelta(seconds=10 * i)
    return WindowSummary(model=model, stream=stream, start=start, end=start + timedelta(seconds=10),
                         count=100, mean=mean, std=1.0)  # fmt: skip


def _spec(model: str) -> MonitorSpec:
    return MonitorSpec(
        model=model,
        anomaly={"enabled": False},
        default=SignalSpec(dynamic={"warmup": 3}, detectors=()),
        signals={f"feature:{XSS}:mean": SignalSpec(static=StaticBounds(upper=5.0), dynamic={"warmup": 3},
                                                   detectors=())},
    )  # fmt: skip


def _state(model: str = XSS) -> tuple[DashboardState, Alert]:
    state = DashboardState(alerts_topic="a", windows_topic="w", acks_topic="k", dead_letters_topic="d")
    stream = f"feature:{XSS}"
    for i in range(30):
        for s in (_summary(model, stream, i, 1.0 if i < 20 else 9.0), _summary(model, "events", i, 0.1)):
            state.apply(Message(Coord("w", 0, i), s.model_dump_json().encode(), model.encode()))
    alert = Alert.build(kind=AlertKind.THRESHOLD_STATIC, severity=Severity.CRITICAL, model=model,
                        signal=f"{stream}:mean", summary=XSS, starts_at=T0 + timedelta(seconds=210),
                        evidence={"value": 9.0, "window_end": (T0 + timedelta(seconds=210)).isoformat(),
                                  "threshold": [None, 5.0], "feature": XSS})  # fmt: skip
    state.apply(Message(Coord("a", 0, 0), alert.model_dump_json().encode(), alert.fingerprint.encode()))
    raw = json.dumps({"model": "churn", "x": XSS}).encode()
    letter = DeadLetter(
        reason="wrong_type",
        error_class=XSS,
        detail=XSS,
        source_topic=XSS,
        source_partition=3,
        source_offset=42,
        raw_b64=base64.b64encode(raw).decode(),
    )
    state.apply(Message(Coord("d", 1, 7), letter.model_dump_json().encode(), None))
    for junk in (b"\xff", b"{}", None):
        state.apply(Message(Coord("w", 0, 99), junk, None)).apply(Message(Coord("d", 0, 1), junk, None))
    return state, alert


def test_the_view_is_bounded_and_counts_what_it_skips() -> None:
    state = DashboardState(windows_topic="w", windows_per_series=5, max_series=2)
    for m in ("a", "b", "c"):
        for i in range(8):
            state.apply(
                Message(Coord("w", 0, i), _summary(m, "events", i, 1.0).model_dump_json().encode(), None)
            )
    assert state.models() == ["b", "c"] and len(state.series("c", "events")) == 5
    state.apply(Message(Coord("w", 0, 9), b"garbage", None))
    assert state.skipped == 1


def test_the_learned_band_and_static_bound_are_replayed_over_the_windows() -> None:
    state, alert = _state("m")
    spec = _spec("m")
    series = {
        s.name: s for s in signal_series(spec, [(f"feature:{XSS}", state.series("m", f"feature:{XSS}"))])
    }
    s = series[f"feature:{XSS}:mean"]
    assert len(s.y) == 30 and s.static == (None, 5.0)
    assert s.learned[0] == (None, None) and s.learned[10][1] is not None  # after the warm-up
    fig = signal_figure(s, [alert])
    names = [t["name"] for t in fig["data"]]
    assert names == ["learned band (low)", "learned band", "static upper", "value", "alert firing"]
    assert XSS not in json.dumps(fig)  # no producer text inside a figure (Plotly renders markup)


def test_every_page_escapes_producer_text_and_draws_only_data() -> None:
    state, _ = _state()
    dash = Dashboard(state, _spec)
    home = asyncio.run(dash.render_home())
    p = assert_harmless(home)
    assert XSS in "".join(p.text)
    model = dash.render_model(XSS)
    p = assert_harmless(model)
    assert XSS in "".join(p.text) and len(p.json_blocks) >= 3
    figures = [json.loads(b) for b in p.json_blocks]
    assert max(len(t["y"]) for f in figures for t in f["data"] if t["name"] == "value") == 30
    letters = dash.render_dead_letters()
    p = assert_harmless(letters)
    assert XSS in "".join(p.text) and "[3]@42" in "".join(p.text)
    assert state.rejects_by_model == {"churn": 1} and state.skipped == 6


def _client_run(app: faust.App, go: Callable[[TestClient], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        async with TestClient(TestServer(app.web.web_app)) as client:
            return await go(client)

    return asyncio.run(run())


def _app(state: DashboardState, acks: list[AlertAck], silences: list[Silence]) -> tuple[faust.App, Dashboard]:
    app = faust.App("gw-unit-dashboard", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=True)
    dash = Dashboard(state, _spec)

    async def put_ack(ack: AlertAck) -> None:
        acks.append(ack)

    async def put_silence(silence: Silence) -> None:
        silences.append(silence)

    attach_static(app)
    attach_pages(app, dash)
    attach_alert_pages(app, state.book, None, dash.alert_extras)
    attach_actions(app, dash, put_ack, put_silence, clock=lambda: T0 + timedelta(hours=1))
    return app, dash


def test_ack_and_silence_need_the_form_token_and_the_same_origin() -> None:
    state, alert = _state()
    acks: list[AlertAck] = []
    silences: list[Silence] = []
    app, dash = _app(state, acks, silences)
    fp = alert.fingerprint

    async def go(c: TestClient) -> dict[str, Any]:
        page = await (await c.get(f"/alerts/{fp}/")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None and token.group(1) == dash.csrf
        form = {"csrf": dash.csrf, "by": XSS, "note": "on it"}
        out = {
            "get": (await c.get(f"/alerts/{fp}/ack")).status,
            "no_token": (await c.post(f"/alerts/{fp}/ack", data={**form, "csrf": "x"})).status,
            "cross_site": (
                await c.post(f"/alerts/{fp}/ack", data=form, headers={"Origin": "https://evil.example"})
            ).status,
            "unknown": (await c.post("/alerts/0000000000000000/ack", data=form)).status,
            "no_name": (await c.post(f"/alerts/{fp}/ack", data={**form, "by": " "})).status,
        }
        ok = await c.post(f"/alerts/{fp}/ack", data=form, allow_redirects=False,
                          headers={"Origin": f"http://{c.host}:{c.port}"})  # fmt: skip
        out["ok"], out["location"] = ok.status, ok.headers.get("Location")
        bad_hours = await c.post(
            f"/alerts/{fp}/silence", data={"csrf": dash.csrf, "by": "ana", "hours": "1e9"}
        )
        out["bad_hours"] = bad_hours.status
        silence_form = {"csrf": dash.csrf, "by": "ana", "hours": "2", "comment": "deploy"}
        sil = await c.post(f"/alerts/{fp}/silence", data=silence_form, allow_redirects=False)
        out["silence"] = sil.status
        out["after"] = await (await c.get(f"/alerts/{fp}/?done=ack")).text()
        out["js"] = await c.get("/static/plotly.min.js")
        out["js_etag"] = out["js"].headers.get("ETag")
        out["js_cached"] = (await c.get("/static/dashboard.js", headers={"If-None-Match": "nope"})).status
        out["nothing"] = (await c.get("/static/..%2Fdashboard.py")).status
        out["home"] = (await c.get("/")).headers.get("Content-Security-Policy", "")
        out["no_model"] = (await c.get("/models/?name=nobody")).status
        return out

    out = _client_run(app, go)
    assert (out["get"], out["no_token"], out["cross_site"], out["unknown"], out["no_name"]) == (
        405,
        403,
        403,
        404,
        400,
    )
    assert (out["ok"], out["location"]) == (303, f"/alerts/{fp}/?done=ack")
    assert [(a.fingerprint, a.starts_at, a.by) for a in acks] == [(fp, alert.starts_at, XSS)]
    assert state.ack_of(alert) == acks[0]
    after = assert_harmless(out["after"])
    assert f"acknowledged by {XSS}" in "".join(after.text) and "Acknowledged: the router" in out["after"]
    assert (out["bad_hours"], out["silence"]) == (400, 303)
    (s,) = silences
    assert {m.name: m.value for m in s.matchers} == {
        "model": XSS,
        "kind": "threshold_static",
        "signal": alert.signal,
    }
    assert s.ends_at - s.starts_at == timedelta(hours=2)
    assert out["js"].status == 200 and out["js"].headers["Cache-Control"].startswith("public")
    assert out["js_etag"] and out["js_cached"] == 200 and out["nothing"] == 404
    assert "script-src 'self'" in out["home"] and out["no_model"] == 404


def test_an_ack_of_an_earlier_episode_does_not_cover_the_new_one() -> None:
    state, alert = _state()
    old = AlertAck(
        fingerprint=alert.fingerprint, starts_at=alert.starts_at - timedelta(days=1), by="x", at=T0
    )
    state.add_ack(old)
    assert state.ack_of(alert) is None
    resolved = alert.model_copy(update={"status": AlertStatus.RESOLVED})
    assert state.open_alerts() == [alert]
    state.book.add(resolved.model_copy(update={"id": "f" * 20}))
    assert state.open_alerts() == []


def test_playbooks_render_as_html_with_their_table_and_links() -> None:
    app = faust.App("gw-unit-dashboard-pb", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=True)
    attach_alert_pages(app, AlertBook())

    async def go(c: TestClient) -> tuple[str, str]:
        return await (await c.get("/playbooks/README.md")).text(), await (
            await c.get("/playbooks/event_rate.md")
        ).text()

    index, page = _client_run(app, go)
    assert '<a href="threshold_static.md">' in index and "<table>" in index
    assert "<h1>" in page and "<pre id=" not in page
