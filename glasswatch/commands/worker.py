"""``glasswatch worker`` and ``glasswatch status``."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from glasswatch.errors import BrokerError, ConfigError
from glasswatch.monitor.specs import MonitorSpec, load_specs
from glasswatch.settings import Settings

__all__ = ["fetch_stats", "register", "render_stats", "run_worker"]


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    """Create topics, build the Faust app and run it until SIGTERM/SIGINT."""
    from faust.worker import Worker

    from glasswatch.agents.ingest import IngestMetrics, attach_ingest
    from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
    from glasswatch.kafka.app import create_app
    from glasswatch.schemas.alert import Alert
    from glasswatch.web.alerts import AlertBook, attach_alert_pages
    from glasswatch.web.stats import attach_web

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    created = loop.run_until_complete(ensure_topics(settings.kafka.bootstrap, glasswatch_topics(settings)))
    if created:
        logging.getLogger("glasswatch").info("created topics: %s", ", ".join(created))
    gw = create_app(settings)
    metrics = IngestMetrics()
    book = AlertBook()
    attach_ingest(
        gw,
        metrics=metrics,
        monitors=settings.worker.monitors,
        spec_for=spec_lookup(settings.worker.monitor_specs),
        on_alert=book.add,
    )
    attach_web(gw, metrics)

    async def load_from_topic(fingerprint: str) -> list[Alert]:
        from glasswatch.commands.traffic import read_topic_json

        try:
            docs = await read_topic_json(settings.kafka.bootstrap, settings.topics.alerts, timeout_s=10.0)
        except BrokerError:
            logging.getLogger("glasswatch").warning("alerts topic unreadable for alert %s", fingerprint)
            return []
        return [Alert.model_validate(d) for d in docs if d.get("fingerprint") == fingerprint]

    attach_alert_pages(gw.app, book, load_from_topic)
    worker = Worker(gw.app, loglevel=loglevel, loop=loop, quiet=True)
    worker.execute_from_commandline()


def spec_lookup(path: Path | None) -> Callable[[str], MonitorSpec]:
    """Monitor specs from a YAML file or folder (validated now: a bad spec stops the worker)."""
    specs: dict[str, MonitorSpec] = {}
    if path is not None:
        files = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
        if not files:
            raise ConfigError(f"{path}: no monitor spec files (*.yaml) found")
        for f in files:
            for spec in load_specs(f):
                specs[spec.model] = spec

    def lookup(model: str) -> MonitorSpec:
        return specs.get(model) or MonitorSpec(model=model)

    return lookup


def fetch_stats(url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    full = url.rstrip("/") + "/glasswatch/stats/"
    try:
        with urllib.request.urlopen(full, timeout=timeout_s) as resp:  # noqa: S310 (local URL by design)
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except (urllib.error.URLError, OSError) as exc:
        raise BrokerError(
            f"no glasswatch worker answered at {full} ({exc}); start one with 'glasswatch worker'"
        ) from exc


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render_stats(snap: dict[str, Any]) -> str:
    out = [
        f"accepted events: {snap['accepted']}    dead-lettered: {snap['rejected']}",
    ]
    if snap["rejects"]:
        out.append(
            "dead letters by reason: " + ", ".join(f"{k}={v}" for k, v in sorted(snap["rejects"].items()))
        )
    for model, m in snap["models"].items():
        out.append("")
        versions = ", ".join(f"v{k}: {v}" for k, v in m["versions"].items())
        out.append(f"model {model}   events {m['events']}   versions {versions}")
        cols = [
            "feature",
            "count",
            "missing%",
            "mean",
            "std",
            "min",
            "p05",
            "p50",
            "p95",
            "max",
            "top categories",
        ]
        rows = [cols]
        for fname, f in m["features"].items():
            cats = ", ".join(f"{k}:{v}" for k, v in list(f.get("categories", {}).items())[:3])
            rows.append(
                [
                    fname,
                    str(f["count"]),
                    f"{100 * f['missing_rate']:.1f}",
                    _fmt(f["mean"]),
                    _fmt(f["std"]),
                    _fmt(f["min"]),
                    _fmt(f.get("p05")),
                    _fmt(f.get("p50")),
                    _fmt(f.get("p95")),
                    _fmt(f["max"]),
                    cats,
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    @app.command()
    def worker(
        loglevel: str = typer.Option("info", help="Log level of the worker (debug, info, warning)."),
    ) -> None:
        """Run the glasswatch Faust worker: ingest, validate, dead-letter, statistics.

        Reads the input topics, sends bad messages to the dead-letter topic with their reason and
        keeps per-(model, feature) statistics in a changelog-backed table. Serves
        http://127.0.0.1:<web_port>/glasswatch/stats/ and /metrics/. Stop with Ctrl-C or SIGTERM.
        """
        s = settings()
        try:
            run_worker(s, loglevel=loglevel)
        except (BrokerError, ConfigError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    @app.command()
    def status(
        url: str = typer.Option(
            "", help="Worker URL (default: http://127.0.0.1:<GLASSWATCH_WORKER__WEB_PORT>)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the raw JSON snapshot."),
    ) -> None:
        """Show the statistics and dead-letter counters kept by a running worker."""
        s = settings()
        try:
            snap = fetch_stats(url or f"http://127.0.0.1:{s.worker.web_port}")
        except BrokerError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if as_json:
            json.dump(snap, sys.stdout, indent=2, sort_keys=True)
            sys.stdout.write("\n")
        else:
            typer.echo(render_stats(snap))
