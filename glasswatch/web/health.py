"""``/healthz``: the worker's liveness probe (Docker/compose healthcheck, Kubernetes probes).

Answers ``200 {"status": "ok"}`` while the Faust app runs and ``503 {"status": "crashed"}`` once
it crashed (it is then about to exit). It reads no state and no topic, so it stays cheap under
load and answers within the event loop's lag: a probe that times out means a blocked loop, which
is what a liveness probe should catch. Readiness (partitions assigned, tables recovered) is not
judged here; ``/glasswatch/stats/`` shows it.
"""

from __future__ import annotations

from typing import Any

import faust

__all__ = ["HEALTH_PATH", "attach_health", "health_body"]

HEALTH_PATH = "/healthz"


def health_body(app: faust.App) -> tuple[dict[str, str], int]:
    """The JSON body and HTTP status of ``/healthz`` for ``app``."""
    if app.crashed:
        return {"status": "crashed"}, 503
    return {"status": "ok"}, 200


def attach_health(app: faust.App) -> None:
    """Register ``/healthz`` on ``app``'s web server."""

    @app.page(HEALTH_PATH, name="healthz")
    async def healthz_view(web: Any, request: Any) -> Any:
        body, status = health_body(app)
        return web.json(body, status=status)

    del healthz_view
