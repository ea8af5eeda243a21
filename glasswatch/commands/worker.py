"""``glasswatch worker``: the Faust worker (ingest, validate, dead-letter, monitors, web pages)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from glasswatch.errors import BrokerError, ConfigError
from glasswatch.settings import Settings

if TYPE_CHECKING:  # river underneath: imported when the worker starts, not for ``--help``
    from glasswatch.agents.baselines import BaselineProvider, ReferenceResolver
    from glasswatch.drift.performance import PerformanceConfig
    from glasswatch.monitor.specs import MonitorSpec

__all__ = ["baseline_provider", "performance_lookup", "reference_resolver", "register", "run_worker",
           "spec_lookup"]  # fmt: skip


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    """Create topics, build the Faust app and run it until SIGTERM/SIGINT.

    Output: log records in the one glasswatch format (:mod:`glasswatch.logs`, ``--log-format``)
    on stderr, Faust's spinner only on a terminal, the start-up records that are expected
    (:class:`~glasswatch.kafka.log_limits.StartupNoise`) at DEBUG, and one line on stdout when
    the worker is ready: ``dashboard: <base_url>/``."""
    from faust.worker import Worker

    from glasswatch.agents.baseline_accepts import WorkerAccepts
    from glasswatch.agents.ingest import attach_ingest
    from glasswatch.agents.ingest_metrics import IngestMetrics
    from glasswatch.agents.labels import attach_labels
    from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
    from glasswatch.kafka.app import create_app
    from glasswatch.kafka.log_limits import StartupNoise, install_repeat_filter
    from glasswatch.logs import apply_format
    from glasswatch.training.version_metrics import registered_metrics
    from glasswatch.web.alerts import AlertBook
    from glasswatch.web.health import attach_health
    from glasswatch.web.serve import attach_dashboard
    from glasswatch.web.stats import attach_web

    noise = StartupNoise().install()  # expected start-up errors at DEBUG until ready
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    created = loop.run_until_complete(ensure_topics(settings.kafka.bootstrap, glasswatch_topics(settings)))
    if created:
        logging.getLogger("glasswatch").info("created topics: %s", ", ".join(created))
    gw = create_app(settings)
    metrics = IngestMetrics()
    book = AlertBook()
    spec_for = spec_lookup(settings.worker.monitor_specs)
    baselines = baseline_provider(settings, spec_for)
    # labels ⋈ predictions: performance against the registered version, concept drift; a step of
    # the ingest agent's batches (one Faust agent per input topic, see attach_ingest)
    label_step = None
    if settings.worker.labels:
        label_step = attach_labels(
            gw, on_alert=book.add, registered=registered_metrics(settings.mlflow.tracking_uri),
            config_for=performance_lookup(settings.worker.monitor_specs), ttl_s=settings.worker.label_ttl_s,
        )  # fmt: skip
    attach_ingest(
        gw,
        metrics=metrics,
        monitors=settings.worker.monitors,
        spec_for=spec_for,
        on_alert=book.add,
        then=label_step,
        baselines=baselines,
        accepts=WorkerAccepts.connect(settings.kafka.bootstrap, settings.topics.baseline_accepts),
    )
    attach_web(gw, metrics, book)
    attach_health(gw.app)  # /healthz: the compose healthcheck

    # dashboard and alert pages: a bounded view rebuilt from the alerts, acks, windows and
    # dead-letter topics at start, then followed live; bad records are skipped and counted
    attach_dashboard(gw, book, spec_for)
    repeat_s = settings.worker.log_repeat_s

    dashboard = f"{settings.worker.base_url}/"

    class _Worker(Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            apply_format(logger)  # Faust's handlers, in the one format (no colour codes)
            if repeat_s > 0:  # a broker outage: one line per cause per interval, with a count
                install_repeat_filter(logger, repeat_s)

        async def on_startup_finished(self) -> None:
            await super().on_startup_finished()
            noise.ready()
            if not self._shutdown_immediately:  # stdout: Faust redirects sys.stdout to the log
                print(f"dashboard: {dashboard}", file=self.stdout, flush=True)

    worker = _Worker(gw.app, loglevel=loglevel, loop=loop, quiet=True, stdout=sys.stdout)
    if not _isatty(worker.stdout):  # the spinner writes cursor escape codes, even into a file
        worker.spinner = None
    worker.execute_from_commandline()


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def reference_resolver(settings: Settings) -> ReferenceResolver | None:
    """Where model versions' references are read: MLflow at ``settings.mlflow.tracking_uri``
    (as the drift process reads them, downloads cached under ``<data_dir>/references``), built on
    first use; ``None`` when no registry is configured (a ``sqlite:``/``file:``/path URI whose
    file does not exist: nothing was ever registered there). A remote registry that cannot be
    reached is found out per version (a warning, learned bands, retried later)."""
    from glasswatch.agents.baselines import LazyResolver

    uri = settings.mlflow.tracking_uri
    local = _local_store(uri)
    if not uri or (local is not None and not local.exists()):
        return None
    cache = settings.worker.data_dir / "references"

    def build() -> ReferenceResolver:
        from glasswatch.drift.reference import ReferenceCache
        from glasswatch.training.registry import MlflowReferenceStore

        return MlflowReferenceStore(uri, ReferenceCache(cache, max_bytes=256 << 20))

    return LazyResolver(build)


def _local_store(uri: str) -> Path | None:
    """The file or folder a local tracking URI names (``None``: a remote one)."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    if uri.startswith("file:"):
        return Path(uri.removeprefix("file:").removeprefix("//"))
    return None if "://" in uri else Path(uri)


def baseline_provider(settings: Settings, spec_for: Callable[[str], MonitorSpec]) -> BaselineProvider | None:
    """The worker's reference baselines (``GLASSWATCH_WORKER__BASELINES``; ``None`` when off):
    each spec's ``baseline`` section decides between its file, MLflow and learned bands."""
    if not settings.worker.baselines:
        return None
    from glasswatch.agents.baselines import BaselineProvider

    return BaselineProvider(spec_for, reference_resolver(settings))


def performance_lookup(path: Path | None) -> Callable[[str], PerformanceConfig]:
    """Each model's ``drift.performance`` section of the monitor specs (defaults without one)."""
    from glasswatch.drift.performance import PerformanceConfig
    from glasswatch.drift.spec import load_drift_specs

    found = {m: spec.performance for m, spec in load_drift_specs(path).items()} if path else {}
    default = PerformanceConfig()
    return lambda model: found.get(model, default)


def spec_lookup(path: Path | None) -> Callable[[str], MonitorSpec]:
    """Monitor specs from a YAML file or folder (validated now: a bad spec stops the worker)."""
    from glasswatch.monitor.specs import MonitorSpec, load_specs

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
