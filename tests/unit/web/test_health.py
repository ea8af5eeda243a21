"""``/healthz`` answers 200 while the Faust app runs and 503 once it crashed (compose probes it)."""

from __future__ import annotations

import asyncio

import faust
from aiohttp.test_utils import TestClient, TestServer

from glasswatch.web.health import HEALTH_PATH, attach_health


def _get(app: faust.App, path: str) -> tuple[int, object]:
    async def fetch() -> tuple[int, object]:
        async with TestClient(TestServer(app.web.web_app)) as client:
            resp = await client.get(path)
            return resp.status, await resp.json()

    return asyncio.run(fetch())


def _app() -> faust.App:
    return faust.App("gw-unit-health", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=True)


def test_healthz_is_ok_while_the_app_runs() -> None:
    app = _app()
    attach_health(app)
    assert HEALTH_PATH == "/healthz"
    assert _get(app, "/healthz") == (200, {"status": "ok"})


def test_healthz_is_503_once_the_app_crashed() -> None:
    app = _app()
    attach_health(app)
    app._crashed.set()  # what mode's Service.crash() sets (the public crash() also stops the app)
    assert app.crashed
    assert _get(app, "/healthz") == (503, {"status": "crashed"})


def test_without_attach_there_is_no_healthz() -> None:
    app = _app()

    async def fetch() -> int:
        async with TestClient(TestServer(app.web.web_app)) as client:
            return (await client.get("/healthz")).status

    assert asyncio.run(fetch()) == 404
