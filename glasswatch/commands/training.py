"""Training commands: ``glasswatch train`` (example pipeline) and ``glasswatch check RUN_ID``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from glasswatch.errors import ConfigError, GateFailed, TrackingError
from glasswatch.settings import Settings

__all__ = ["register"]

_TRAIN_HELP = (
    "Train the example breast-cancer model (scikit-learn's bundled data, no download) with full "
    "lineage and register it.\n\n"
    "Writes versioned train/validation/reference splits (<data-dir>/v1/*.csv) and logs them as run "
    "inputs with sha256 digests; fixes and logs seeds, git commit/branch/dirty state, uv.lock hash, "
    "package versions, system metrics, SHAP summary, run time and estimated cost.\n\n"
    "The quality gate (roc_auc >= 0.9, accuracy >= 0.85, and not worse than the current 'champion' "
    "alias) decides whether the new model version becomes 'champion'. "
    "Exit code 2 when the gate refuses the candidate, 1 when MLflow cannot be reached."
)
_CHECK_HELP = (
    "Audit the reproducibility of an MLflow run: seeds fixed, inputs logged with digests and "
    "contexts, system metrics present, SHAP summary artifact, alert thresholds defined (run tag "
    "glasswatch.monitor_spec or monitors/<model>.yaml), git commit recorded and clean.\n\n"
    "Prints an aligned table; exits 1 naming every gap, 0 when there are none."
)
_DATA_DIR = Path(".glasswatch/data")
_HERE = Path(".")


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach ``train`` and ``check`` to ``app``."""

    @app.command(help=_TRAIN_HELP)
    def train(
        seed: int = typer.Option(42, help="Seed of every random generator (same seed => same model hash)."),
        model_name: str = typer.Option("breast-cancer", help="Registered model name in MLflow."),
        tracking_uri: str | None = typer.Option(
            None, help="MLflow tracking URI (default: settings mlflow.tracking_uri, "
            "i.e. GLASSWATCH_MLFLOW__TRACKING_URI)."),
        experiment: str | None = typer.Option(
            None, help="MLflow experiment (default: settings mlflow.experiment)."),
        data_dir: Annotated[Path, typer.Option(
            help="Where versioned splits are written (<data-dir>/v1/*.csv).")] = _DATA_DIR,
        repo: Annotated[Path, typer.Option(
            help="Git repository whose commit/dirty state is recorded; monitors/<model>.yaml "
            "is read from here.")] = _HERE,
        no_desktop: bool = typer.Option(False, "--no-desktop", help="Do not try desktop notifications."),
        system_metrics_interval: float = typer.Option(
            1.0, min=0.1, help="Seconds between MLflow system-metric samples. MLflow's own default "
            "(10 s) is longer than this example run, which would then record none."),
        price_table: Annotated[Path | None, typer.Option(
            help="YAML price table {hourly: {<instance type>: usd}, per_cpu_hour: usd} for the "
            "estimated cost (default: built-in list prices). Instance type: "
            "GLASSWATCH_INSTANCE_TYPE, else local-<cpus>cpu-<GiB>gib.")] = None,
    ) -> None:
        """Train the example breast-cancer model with full lineage and register it."""
        from glasswatch.training.capture import PriceTable
        from glasswatch.training.pipeline import TrainConfig
        from glasswatch.training.pipeline import train as run_pipeline

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        s = settings()
        try:
            cfg = TrainConfig(
                model_name=model_name, seed=seed, project=s.project, env=s.env,
                experiment=experiment or s.mlflow.experiment,
                tracking_uri=tracking_uri or s.mlflow.tracking_uri, data_dir=data_dir, repo=repo,
                desktop=s.notify.desktop and not no_desktop,
                system_metrics_interval=system_metrics_interval,
                price_table=PriceTable.from_yaml(price_table) if price_table else None,
            )
            result = run_pipeline(cfg)
        except GateFailed as exc:
            typer.echo(f"gate refused the candidate: {exc}", err=True)
            raise typer.Exit(2) from exc
        except (TrackingError, ConfigError) as exc:
            typer.echo(f"{type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"run_id         {result.run_id}")
        typer.echo(f"model_version  {model_name} v{result.model_version} (champion)")
        typer.echo(f"model_sha256   {result.model_sha256}")
        for key in ("roc_auc", "accuracy_score", "f1_score", "log_loss"):
            if key in result.metrics:
                typer.echo(f"{key:<14} {result.metrics[key]:.6f}")

    @app.command(help=_CHECK_HELP)
    def check(
        run_id: str = typer.Argument(..., help="MLflow run id to audit."),
        tracking_uri: str | None = typer.Option(
            None, help="MLflow tracking URI (default: settings mlflow.tracking_uri)."),
        repo: Annotated[Path, typer.Option(
            help="Where monitors/<model>.yaml is looked up when the run has no "
            "glasswatch.monitor_spec tag.")] = _HERE,
    ) -> None:
        """Audit a run's reproducibility."""
        from glasswatch.training.checklist import check_run

        try:
            result = check_run(run_id, tracking_uri or settings().mlflow.tracking_uri, repo)
        except TrackingError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        typer.echo(result.render())
        if not result.passed:
            typer.echo(f"gaps: {', '.join(result.gaps)}", err=True)
            raise typer.Exit(1)
