"""Worker HTTP endpoints: ``/glasswatch/stats`` (JSON) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

from typing import Any

from glasswatch.agents.ingest import IngestMetrics
from glasswatch.kafka.app import GlasswatchApp
from glasswatch.monitor.stats import merge_states

__all__ = ["attach_web", "prometheus_text", "snapshot"]


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
    }
    return merged


def prometheus_text(snap: dict[str, Any]) -> str:
    lines = [
        "# HELP glasswatch_events_accepted_total Events accepted by ingest (state of assigned partitions).",
        "# TYPE glasswatch_events_accepted_total counter",
        f"glasswatch_events_accepted_total {snap['accepted']}",
        "# HELP glasswatch_events_rejected_total Messages or batch items sent to the dead-letter topic.",
        "# TYPE glasswatch_events_rejected_total counter",
    ]
    for reason, n in sorted(snap["rejects"].items()):
        lines.append(f'glasswatch_events_rejected_total{{reason="{reason}"}} {n}')
    lines += [
        "# TYPE glasswatch_ingest_busy_seconds_total counter",
        f"glasswatch_ingest_busy_seconds_total {snap['worker']['busy_seconds']}",
        "# TYPE glasswatch_replayed_messages_skipped_total counter",
        f"glasswatch_replayed_messages_skipped_total {snap['worker']['skipped_replays']}",
    ]
    return "\n".join(lines) + "\n"


def attach_web(gw: GlasswatchApp, metrics: IngestMetrics) -> None:
    app = gw.app

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

    @app.page("/metrics/")
    async def metrics_view(web: Any, request: Any) -> Any:
        return web.text(prometheus_text(snapshot(gw, metrics)), content_type="text/plain; version=0.0.4")

    del stats_view, metrics_view, monitors_view
