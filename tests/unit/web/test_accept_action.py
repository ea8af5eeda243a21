"""The alert page's "Accept as new normal" button: shown where it can help, CSRF-safe, escaped."""

from __future__ import annotations

import asyncio
import fnmatch
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from aiohttp.test_utils import TestClient, TestServer

from glasswatch.alerting.silence import Silence
from glasswatch.monitor.replay import Message
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, AlertKind, Severity
from glasswatch.schemas.baseline_accept import ACCEPT_LEAD, BaselineAccept
from glasswatch.schemas.coords import Coord
from glasswatch.web.actions import attach_actions
from glasswatch.web.alerts import attach_alert_pages
from glasswatch.web.dashboard import Dashboard
from glasswatch.web.history import DashboardState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
XSS = '<script>alert("x")</script>[*]'


def _alert(kind: AlertKind, source: str, signal: str = f"feature:{XSS}:mean") -> Alert:
    return Alert.build(kind=kind, severity=Severity.WARNING, model="churn", signal=signal, summary=XSS,
                       starts_at=T0, labels={"source": source}, evidence={"source": source})  # fmt: skip


def _run(alerts: list[Alert], put: bool = True) -> tuple[dict[str, Any], list[BaselineAccept], Dashboard]:
    state = DashboardState(alerts_topic="a", windows_topic="w", acks_topic="k", dead_letters_topic="d")
    for i, a in enumerate(alerts):
        state.apply(Message(Coord("a", 0, i), a.model_dump_json().encode(), a.fingerprint.encode()))
    app = faust.App("gw-unit-accept", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=True)
    dash = Dashboard(state, lambda m: MonitorSpec(model=m))
    stored: list[BaselineAccept] = []

    async def put_ack(ack: AlertAck) -> None: ...

    async def put_silence(silence: Silence) -> None: ...

    async def put_accept(accept: BaselineAccept) -> None:
        stored.append(accept)

    attach_alert_pages(app, state.book, None, dash.alert_extras)
    attach_actions(app, dash, put_ack, put_silence, put_accept=put_accept if put else None,
                   clock=lambda: T0 + timedelta(hours=1))  # fmt: skip

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with TestClient(TestServer(app.web.web_app)) as c:
            for a in alerts:
                fp = a.fingerprint
                page = await (await c.get(f"/alerts/{fp}/")).text()
                form = {"csrf": dash.csrf, "by": "ana", "note": XSS}
                out[fp] = {
                    "button": 'id="accept-button"' in page,
                    "raw_xss": "<script>alert" in page,
                    "get": (await c.get(f"/alerts/{fp}/accept")).status,
                    "no_token": (await c.post(f"/alerts/{fp}/accept", data={**form, "csrf": "x"})).status,
                    "cross_site": (
                        await c.post(
                            f"/alerts/{fp}/accept", data=form, headers={"Origin": "https://evil.example"}
                        )
                    ).status,
                    "no_name": (await c.post(f"/alerts/{fp}/accept", data={**form, "by": " "})).status,
                }
                ok = await c.post(f"/alerts/{fp}/accept", data=form, allow_redirects=False)
                out[fp]["ok"], out[fp]["location"] = ok.status, ok.headers.get("Location")
                out[fp]["after"] = await (await c.get(f"/alerts/{fp}/?done=accept")).text()
        return out

    return asyncio.run(go()), stored, dash


def test_accept_button_posts_an_escaped_accept_of_the_alerts_signal() -> None:
    dynamic = _alert(AlertKind.THRESHOLD_DYNAMIC, "dynamic")
    out, stored, _ = _run([dynamic])
    r = out[dynamic.fingerprint]
    assert r["button"] and not r["raw_xss"]
    assert (r["get"], r["no_token"], r["cross_site"], r["no_name"]) == (405, 403, 403, 400)
    assert (r["ok"], r["location"]) == (303, f"/alerts/{dynamic.fingerprint}/?done=accept")
    assert "Accepted as the new normal" in r["after"] and "<script>alert" not in r["after"]
    (a,) = stored  # only the good post stored anything
    assert (a.model, a.by, a.note) == ("churn", "ana", XSS)
    assert a.at == T0 + timedelta(hours=1) + ACCEPT_LEAD and a.created_at == T0 + timedelta(hours=1)
    # the pattern matches the alert's own signal only (its [*] is escaped, not a wildcard)
    assert a.signal is not None and fnmatch.fnmatchcase(dynamic.signal, a.signal)
    assert not fnmatch.fnmatchcase('feature:<script>alert("x")</script>x:mean', a.signal)
    assert re.fullmatch(r"[0-9a-f]{32}", a.id)


def test_no_button_and_409_for_static_bands_outages_and_without_a_store() -> None:
    static = _alert(AlertKind.THRESHOLD_STATIC, "static", "feature:x:mean")
    detector = _alert(AlertKind.DRIFT_DETECTOR, "detector:adwin", "feature:y:mean")
    out, stored, _ = _run([static, detector])
    assert (out[static.fingerprint]["button"], out[static.fingerprint]["ok"]) == (False, 409)
    assert (out[detector.fingerprint]["button"], out[detector.fingerprint]["ok"]) == (True, 303)
    assert [a.signal for a in stored] == ["feature:y:mean"]
    out, stored, _ = _run([detector], put=False)
    assert out[detector.fingerprint]["ok"] == 503 and stored == []
