"""``glasswatch drift run`` (the drift agent) and ``glasswatch drift rerun RUN_ID``.

``run`` consumes the windows topic and runs Evidently against each model version's reference
in MLflow (:mod:`glasswatch.agents.drift`); drift specs are the ``drift:`` sections of the
monitor spec files (``--specs``, default ``GLASSWATCH_WORKER__MONITOR_SPECS``).

``rerun`` is the glass-box check of one drift run: it reads the run's window (exact Kafka offset
ranges), spec and results back from MLflow, reads those offsets from Kafka, runs the job again
against the same reference (its sha256 must match) and prints whether every per-column result
is identical (exit 0) or which differ (exit 1).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import ConfigError, GlasswatchError
from glasswatch.logs import configure_logging
from glasswatch.settings import Settings

if TYPE_CHECKING:
    from glasswatch.drift.spec import DriftSpec
    from glasswatch.training.registry import MlflowReferenceStore

__all__ = ["RerunReport", "register", "rerun", "run_drift_agent", "spec_lookup"]

_CACHE_DIR = Path(".glasswatch/references")


def _store(settings: Settings, tracking_uri: str | None, cache_dir: Path, cache_mb: int,
           ui_url: str | None = None) -> MlflowReferenceStore:
    from glasswatch.drift.reference import ReferenceCache
    from glasswatch.training.registry import MlflowReferenceStore

    return MlflowReferenceStore(tracking_uri or settings.mlflow.tracking_uri,
                                ReferenceCache(cache_dir, max_bytes=cache_mb << 20), ui_url=ui_url)


def spec_lookup(specs: Path | None) -> dict[str, DriftSpec]:
    from glasswatch.drift.spec import load_drift_specs

    return load_drift_specs(specs) if specs is not None else {}


def run_drift_agent(
    settings: Settings, *, specs: Path | None = None, tracking_uri: str | None = None,
    group_id: str = "glasswatch-drift", workers: int = 1, cache_dir: Path = _CACHE_DIR,
    cache_mb: int = 512, ui_url: str | None = None,
) -> None:
    """Run the drift agent until SIGTERM / SIGINT."""
    from glasswatch.agents.drift import DriftRuntime
    from glasswatch.drift.spec import DriftSpec

    by_model = spec_lookup(specs or settings.worker.monitor_specs)
    runtime = DriftRuntime(
        bootstrap=settings.kafka.bootstrap, windows_topic=settings.topics.windows,
        alerts_topic=settings.topics.alerts,
        store=_store(settings, tracking_uri, cache_dir, cache_mb, ui_url),
        spec_for=lambda m: by_model.get(m, DriftSpec()), group_id=group_id, workers=workers,
        base_url=settings.worker.base_url, verdicts_topic=settings.topics.drift_verdicts,
    )

    from glasswatch.agents.lifecycle import run_until_signal

    run_until_signal(runtime.run)


class RerunReport(dict[str, Any]):
    """``identical``, per-column ``differences`` and the two results (a JSON-able dict)."""


def rerun(settings: Settings, run_id: str, *, tracking_uri: str | None = None,
          cache_dir: Path = _CACHE_DIR, cache_mb: int = 512) -> RerunReport:
    """Rerun the drift run ``run_id`` from its Kafka offsets (see the module docstring)."""
    from glasswatch.agents.drift import read_window
    from glasswatch.drift.job import run_window

    store = _store(settings, tracking_uri, cache_dir, cache_mb)
    logged = store.read_drift_run(run_id)
    w = logged.window
    ref = store.resolve(w.model, str(w.model_version))
    if ref is None:
        raise ConfigError(f"{w.model} v{w.model_version} has no reference any more")
    if ref.sha256 != logged.reference_sha256:
        raise ConfigError(f"the reference of {w.model} v{w.model_version} changed since the run "
                          f"({ref.sha256[:12]}… ≠ {logged.reference_sha256[:12]}…)")
    messages = asyncio.run(read_window(settings.kafka.bootstrap, w))
    _, result = run_window(messages, w, ref.data, logged.spec, target=logged.target, report=False)
    now = result.comparable()
    before = logged.result
    diffs = {}
    old_cols = {c["column"]: c for c in before.get("columns", [])}
    for c in now["columns"]:
        if old_cols.get(c["column"]) != c:
            diffs[c["column"]] = {"logged": old_cols.get(c["column"]), "rerun": c}
    for key in ("prediction", "dataset_drift", "share_drifted", "rows_current", "skipped"):
        if before.get(key) != now.get(key):
            diffs[key] = {"logged": before.get(key), "rerun": now.get(key)}
    return RerunReport(run_id=run_id, model=w.model, model_version=w.model_version,
                       offsets=[o.model_dump() for o in w.offsets], identical=not diffs,
                       columns=len(now["columns"]), differences=diffs)


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach the ``drift`` group to ``app``."""
    group = typer.Typer(help="Batch drift (Evidently) of production windows against the MLflow "
                             "reference.", no_args_is_help=True)
    app.add_typer(group, name="drift")

    @group.command("run")
    def drift_run(
        specs: Annotated[Path | None, typer.Option(
            help="monitor spec file or folder with drift: sections (default: worker.monitor_specs)")] = None,
        tracking_uri: Annotated[str | None, typer.Option(
            help="MLflow tracking URI (default: settings mlflow.tracking_uri)")] = None,
        group_id: Annotated[str, typer.Option(help="Kafka consumer group")] = "glasswatch-drift",
        workers: Annotated[int, typer.Option(min=1, help="drift job processes")] = 1,
        cache_dir: Annotated[Path, typer.Option(help="reference cache folder")] = _CACHE_DIR,
        cache_mb: Annotated[int, typer.Option(min=1, help="reference cache size (MiB)")] = 512,
        ui_url: Annotated[str | None, typer.Option(
            help="MLflow UI base URL for alert links (default: the tracking URI when http)")] = None,
    ) -> None:
        """Consume the windows topic and run drift jobs (alerts to the alerts topic)."""
        from glasswatch.kafka.log_limits import StartupNoise

        configure_logging(logging.INFO)  # in the format of --log-format
        StartupNoise().install()  # the consumer group's expected start-up errors at DEBUG (for 120 s)
        try:
            run_drift_agent(context(), specs=specs, tracking_uri=tracking_uri, group_id=group_id,
                            workers=workers, cache_dir=cache_dir, cache_mb=cache_mb, ui_url=ui_url)
        except GlasswatchError as exc:
            typer.echo(f"{type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from exc

    @group.command("rerun")
    def drift_rerun(
        run_id: Annotated[str, typer.Argument(help="MLflow run id of a drift run")],
        tracking_uri: Annotated[str | None, typer.Option(
            help="MLflow tracking URI (default: settings mlflow.tracking_uri)")] = None,
        cache_dir: Annotated[Path, typer.Option(help="reference cache folder")] = _CACHE_DIR,
        as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
    ) -> None:
        """Read RUN_ID's offsets back from MLflow and Kafka, rerun it, compare per column."""
        try:
            report = rerun(context(), run_id, tracking_uri=tracking_uri, cache_dir=cache_dir)
        except GlasswatchError as exc:
            typer.echo(f"{type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(2) from exc
        if as_json:
            typer.echo(json.dumps(report, indent=2, default=str))
        else:
            offsets = ",".join(f"{o['topic']}:{o['partition']}:{o['first']}-{o['last']}"
                               for o in report["offsets"])
            typer.echo(f"run        {run_id} ({report['model']} v{report['model_version']})")
            typer.echo(f"offsets    {offsets}")
            verdict = "identical" if report["identical"] else f"DIFFERENT: {sorted(report['differences'])}"
            typer.echo(f"columns    {report['columns']} — {verdict}")
        if not report["identical"]:
            raise typer.Exit(1)
