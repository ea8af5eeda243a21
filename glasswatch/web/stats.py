"""Worker HTTP endpoints: ``/glasswatch/stats/`` (JSON), ``/glasswatch/monitors/`` and ``/metrics``.

``/metrics`` (with or without the trailing slash: a default Prometheus scrape has none) serves the
worker's own registry (:func:`glasswatch.web.metrics.build_registry`) in the Prometheus text format
written by ``prometheus-client``.
"""

from __future__ import annotations

from typing import Any

import psutil
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from glasswatch.agents.ingest_metrics import IngestMetrics
from glasswatch.kafka.app import GlasswatchApp
from glasswatch.monitor.stats import merge_states
from glasswatch.web.alerts import AlertBook
from glasswatch.web.consumer_lag import faust_highwaters
from glasswatch.web.metrics import build_registry

__all__ = ["attach_web", "process_usage", "snapshot"]

_PROCESS = psutil.Process()


def process_usage(proc: psutil.Process = _PROCESS) -> dict[str, Any]:
    """Resident memory, CPU seconds (user + system) and threads of the worker process."""
    with proc.oneshot():
        cpu = proc.cpu_times()
        return {
            "pid": proc.pid,
            "rss_bytes": proc.memory_info().rss,
            "cpu_seconds": round(cpu.user + cpu.system, 3),
            "threads": proc.num_threads(),
        }


def snapshot(gw: GlasswatchApp, metrics: IngestMetrics) -> dict[str, Any]:
    states = gw.read_states()
    merged = merge_states(states.values())
    merged["partitions"] = {
        k: {"last_offset": v.last_offset, "accepted": v.accepted} for k, v in sorted(states.items())
    }
    merged["worker"] = {
        "messages": metrics.messages,
        "batches": metrics.batches,
        "skipped_replays": metrics.skipped_replays,
        "dead_letters_sent": metrics.dead_letters,
        "alerts_sent": metrics.alerts,
        "windows_closed": metrics.windows,
        "busy_seconds": round(metrics.busy_s, 3),
        "process": process_usage(),
    }
    return merged


def attach_web(gw: GlasswatchApp, metrics: IngestMetrics, alerts: AlertBook | None = None) -> None:
    """Register the stats, monitors and metrics pages (``alerts``: open alerts on /metrics)."""
    app = gw.app
    highwaters = faust_highwaters(gw.app, gw.inputs.topics) if gw.inputs is not None else None
    registry = build_registry(gw.read_states, metrics, alerts, highwaters=highwaters)

    @app.page("/glasswatch/stats/")
    async def stats_view(web: Any, request: Any) -> Any:
        return web.json(snapshot(gw, metrics))

    @app.page("/glasswatch/monitors/")
    async def monitors_view(web: Any, request: Any) -> Any:
        """Per source partition and model: the monitor's state digest and open alerts (for audits
        and the restart test; computing digests is slow with anomaly scoring, hence its own page)."""
        out: dict[str, Any] = {}
        for key, st in gw.read_states().items():
            out[key] = {
                model: {"digest": mon.state_digest(), "open_alerts": sorted(mon.open_alerts)}
                for model, mon in st.monitors.items()
            }
        return web.json(out)

    def exposition(web: Any) -> Any:
        # the charset is part of CONTENT_TYPE_LATEST, which aiohttp refuses as content_type=
        return web.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/metrics", name="metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        return exposition(web)

    @app.page("/metrics/", name="metrics_slash")
    async def metrics_slash_view(web: Any, request: Any) -> Any:
        return exposition(web)

    del stats_view, metrics_view, metrics_slash_view, monitors_view
