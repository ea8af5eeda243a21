"""``glasswatch train``: the example pipeline, with its quality gate wired to the one alert path.

A refused candidate's ``quality_gate`` alert goes where every alert goes (``--alerts``):

* ``kafka`` — the alerts topic, in the worker's record format
  (:func:`glasswatch.kafka.alert_publisher.alert_record`); ``glasswatch router run`` then
  groups, deduplicates, silences and routes it like any monitor alert;
* ``local`` — the log and desktop receivers of the default routing, built with
  :func:`~glasswatch.alerting.notify.build.build_notifiers` (the router's own notifiers);
* ``auto`` — ``kafka``, falling back to ``local`` when the broker does not answer in time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import ConfigError, GateFailed, TrackingError
from glasswatch.logs import configure_logging
from glasswatch.settings import Settings

if TYPE_CHECKING:
    from glasswatch.training.alert_sink import AlertSink

__all__ = ["ALERTS_TIMEOUT_S", "AlertsMode", "Estimator", "gate_sink", "local_sink", "register"]

ALERTS_TIMEOUT_S = 5.0
"""How long the gate's alert may take to reach the alerts topic before ``auto`` falls back."""

_LOCAL_RECEIVERS = ("desktop", "log")


class Estimator(StrEnum):
    """``glasswatch train --estimator`` (:data:`glasswatch.training.pipeline.ESTIMATORS`)."""

    FOREST = "forest"
    GBM = "gbm"
    LOGISTIC = "logistic"


class AlertsMode(StrEnum):
    KAFKA = "kafka"
    LOCAL = "local"
    AUTO = "auto"


_TRAIN_HELP = (
    "Train the example breast-cancer model (scikit-learn's bundled data, no download) with full "
    "lineage and register it.\n\n"
    "Writes versioned train/validation/reference splits (<data-dir>/v1/*.csv) and logs them as run "
    "inputs with sha256 digests; fixes and logs seeds, git commit/branch/dirty state, uv.lock hash, "
    "package versions, system metrics, SHAP summary, run time and estimated cost.\n\n"
    "The quality gate (roc_auc >= 0.9, accuracy >= 0.85, and not worse than the current 'champion' "
    "alias) decides whether the new model version becomes 'champion'; a refused candidate raises a "
    "quality_gate alert (see --alerts). "
    "Exit code 2 when the gate refuses the candidate, 1 when MLflow cannot be reached."
)
_ALERTS_HELP = (
    "Where a refused candidate's quality_gate alert goes. kafka: the alerts topic (settings "
    "topics.alerts at kafka.bootstrap), where 'glasswatch router run' groups, deduplicates, "
    "silences and routes it like any alert. local: the log and desktop receivers of the default "
    f"routing, from this process. auto: kafka, or local when the broker does not answer within "
    f"{ALERTS_TIMEOUT_S:g} s (e.g. a laptop without Kafka)."
)
_DATA_DIR = Path(".glasswatch/data")
_HERE = Path(".")


def local_sink(*, desktop: bool, environ: Mapping[str, str]) -> AlertSink:
    """The default routing of a local run, restricted to its local receivers (log, desktop)."""
    from glasswatch.alerting.notify.build import build_notifiers
    from glasswatch.alerting.routes import default_routing
    from glasswatch.training.alert_sink import routed_sink

    config = default_routing("local", desktop=desktop)
    local = config.model_copy(
        update={"receivers": tuple(r for r in config.receivers if r.name in _LOCAL_RECEIVERS)}
    )
    notifiers, _ = build_notifiers(local, environ, env="local")
    return routed_sink(config, notifiers.values())


def gate_sink(
    mode: AlertsMode,
    settings: Settings,
    *,
    desktop: bool,
    environ: Mapping[str, str],
    timeout_s: float = ALERTS_TIMEOUT_S,
) -> AlertSink:
    """The sink the quality gate sends its alert to, for ``--alerts mode``."""
    from glasswatch.kafka.alert_publisher import AlertPublisher
    from glasswatch.training.alert_sink import with_fallback

    if mode is AlertsMode.LOCAL:
        return local_sink(desktop=desktop, environ=environ)
    kafka = AlertPublisher(settings.kafka.bootstrap, settings.topics.alerts,
                           base_url=settings.worker.base_url, timeout_s=timeout_s)
    if mode is AlertsMode.KAFKA:
        return kafka
    return with_fallback(kafka, local_sink(desktop=desktop, environ=environ),
                         what=f"alerts topic {settings.topics.alerts} at {settings.kafka.bootstrap}")


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach ``train`` to ``app`` (the environment snapshot reaches the desktop receiver)."""

    @app.command(help=_TRAIN_HELP)
    def train(
        seed: int = typer.Option(42, help="Seed of every random generator (same seed => same model hash)."),
        model_name: str = typer.Option("breast-cancer", help="Registered model name in MLflow."),
        estimator: Annotated[Estimator, typer.Option(
            help="forest: RandomForestClassifier (explained exactly by shap.TreeExplainer); gbm: "
            "GradientBoostingClassifier (TreeExplainer, log-odds); logistic: LogisticRegression "
            "(explained by a masker over the reference).")] = Estimator.FOREST,
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
        alerts: Annotated[AlertsMode, typer.Option(help=_ALERTS_HELP)] = AlertsMode.AUTO,
        no_desktop: bool = typer.Option(
            False, "--no-desktop", help="Leave the desktop receiver out of local alert delivery."),
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

        configure_logging(logging.INFO)  # in the format of --log-format
        s = context()
        try:
            cfg = TrainConfig(
                model_name=model_name, seed=seed, project=s.project, env=s.env, estimator=estimator.value,
                experiment=experiment or s.mlflow.experiment,
                tracking_uri=tracking_uri or s.mlflow.tracking_uri, data_dir=data_dir, repo=repo,
                system_metrics_interval=system_metrics_interval,
                price_table=PriceTable.from_yaml(price_table) if price_table else None,
            )
            desktop = s.notify.desktop and not no_desktop
            sink = gate_sink(alerts, s, desktop=desktop, environ=context.environ())
            result = run_pipeline(cfg, sink=sink)
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
