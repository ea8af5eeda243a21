"""``glasswatch worker``: the Faust worker (ingest, validate, dead-letter, monitors, web pages)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import typer

from glasswatch.errors import BrokerError, ConfigError
from glasswatch.monitor.specs import MonitorSpec, load_specs
from glasswatch.settings import Settings

__all__ = ["register", "run_worker", "spec_lookup"]


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    """Create topics, build the Faust app and run it until SIGTERM/SIGINT."""
    from faust.worker import Worker

    from glasswatch.agents.ingest import attach_ingest
    from glasswatch.agents.ingest_metrics import IngestMetrics
    from glasswatch.agents.labels import attach_labels
    from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
    from glasswatch.kafka.app import create_app
    from glasswatch.kafka.log_limits import install_repeat_filter
    from glasswatch.training.version_metrics import registered_metrics
    from glasswatch.web.alerts import AlertBook, attach_alert_pages, topic_loader
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
    # labels ⋈ predictions: performance against the registered version, concept drift
    if settings.worker.labels:
        attach_labels(gw, on_alert=book.add, registered=registered_metrics(settings.mlflow.tracking_uri))
    attach_web(gw, metrics, book)

    # alerts this worker forgot are read back from the topic; bad records are skipped, counted
    attach_alert_pages(gw.app, book, topic_loader(settings.kafka.bootstrap, settings.topics.alerts, book))
    repeat_s = settings.worker.log_repeat_s

    class _Worker(Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            if repeat_s > 0:  # a broker outage: one line per cause per interval, with a count
                install_repeat_filter(logger, repeat_s)

    worker = _Worker(gw.app, loglevel=loglevel, loop=loop, quiet=True)
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


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach ``worker`` to ``app``."""

    @app.command()
    def worker(
        loglevel: str = typer.Option("info", help="Log level of the worker (debug, info, warning)."),
    ) -> None:
        """Run the glasswatch Faust worker: ingest, validate, dead-letter, statistics.

        Reads the input topics, sends bad messages to the dead-letter topic with their reason and
        keeps per-(model, feature) statistics in a changelog-backed table. Serves
        http://127.0.0.1:<web_port>/glasswatch/stats/ and /metrics. Stop with Ctrl-C or SIGTERM.
        """
        s = settings()
        try:
            run_worker(s, loglevel=loglevel)
        except (BrokerError, ConfigError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
