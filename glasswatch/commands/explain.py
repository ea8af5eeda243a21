"""``glasswatch explain run``: the explain process (sampled SHAP, attribution drift).

Consumes the predictions topic in its own consumer group, explains a deterministic sample of
predictions with SHAP in a spawned process pool and publishes explanations, window attribution
profiles (``topics.explanations``; each window also an MLflow run with its SHAP plots and CSV,
:mod:`glasswatch.agents.explain_runs`) and ``model_unavailable`` / ``attribution_drift`` alerts
(``topics.alerts``); it also reads ``topics.labels`` and explains the loss of labelled sampled
predictions (``attribution_drift`` with basis ``loss``); see :mod:`glasswatch.agents.explain`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import ConfigError, GlasswatchError
from glasswatch.logs import configure_logging
from glasswatch.settings import Settings

__all__ = ["parse_rates", "register", "run_explain_agent"]

_CACHE_DIR = Path(".glasswatch/models")


def parse_rates(items: list[str]) -> dict[str, float]:
    """``["churn=0.2", ...]`` → ``{"churn": 0.2}``; :class:`ConfigError` on a bad item.

    >>> parse_rates(["bc=0.5"])
    {'bc': 0.5}
    """
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or not name or not 0.0 <= rate <= 1.0:
            raise ConfigError(f"--rate wants MODEL=RATE with RATE in [0, 1], got {item!r}")
        out[name] = rate
    return out


def run_explain_agent(
    settings: Settings, *, tracking_uri: str | None = None, group_id: str = "glasswatch-explain",
    workers: int = 1, rate: float = 0.05, rates: dict[str, float] | None = None,
    window_s: float = 300.0, max_pending: int = 4, cache_dir: Path = _CACHE_DIR,
) -> None:
    """Run the explain process until SIGTERM / SIGINT."""
    from glasswatch.agents.explain import ExplainRuntime
    from glasswatch.agents.explain_models import MlflowModelResolver
    from glasswatch.agents.explain_runs import MlflowWindowRuns
    from glasswatch.commands.worker import spec_lookup
    from glasswatch.explain.sampling import SampleRates

    uri = tracking_uri or settings.mlflow.tracking_uri
    runtime = ExplainRuntime(
        bootstrap=settings.kafka.bootstrap, predictions_topic=settings.topics.predictions,
        labels_topic=settings.topics.labels,
        explanations_topic=settings.topics.explanations, alerts_topic=settings.topics.alerts,
        resolver=MlflowModelResolver(uri, cache_dir), runs=MlflowWindowRuns(uri),
        rates=SampleRates(rates, default=rate), group_id=group_id, workers=workers,
        max_pending=max_pending, window_s=window_s, base_url=settings.worker.base_url,
        partitions=settings.kafka.partitions,
        spec_for=spec_lookup(settings.worker.monitor_specs),  # the worker's anomaly scorers
    )

    from glasswatch.agents.lifecycle import run_until_signal

    run_until_signal(runtime.run)


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach the ``explain`` group to ``app``."""
    group = typer.Typer(help="Sampled SHAP explanations of predictions and attribution drift.",
                        no_args_is_help=True)
    app.add_typer(group, name="explain")

    @group.command("run")
    def explain_run(
        tracking_uri: Annotated[str | None, typer.Option(
            help="MLflow tracking URI (default: settings mlflow.tracking_uri)")] = None,
        group_id: Annotated[str, typer.Option(help="Kafka consumer group")] = "glasswatch-explain",
        workers: Annotated[int, typer.Option(min=1, help="explainer processes (the CPU budget)")] = 1,
        rate: Annotated[float, typer.Option(min=0.0, max=1.0,
                                            help="share of predictions explained")] = 0.05,
        model_rate: Annotated[list[str] | None, typer.Option(
            "--model-rate", help="MODEL=RATE, a model's own sample rate (repeatable)")] = None,
        window_s: Annotated[float, typer.Option(min=1.0, help="attribution window (s, event time)")] = 300.0,
        max_pending: Annotated[int, typer.Option(
            min=1, help="batches waiting for the pool before new ones are skipped")] = 4,
        cache_dir: Annotated[Path, typer.Option(help="downloaded models")] = _CACHE_DIR,
    ) -> None:
        """Explain a sample of the predictions topic (explanations and alerts to Kafka)."""
        configure_logging(logging.INFO)
        try:
            run_explain_agent(context(), tracking_uri=tracking_uri, group_id=group_id, workers=workers,
                              rate=rate, rates=parse_rates(model_rate or []), window_s=window_s,
                              max_pending=max_pending, cache_dir=cache_dir)
        except GlasswatchError as exc:
            typer.echo(f"{type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from exc
