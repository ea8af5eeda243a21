"""Quality gate: a candidate model is registered as ``champion`` only if it earns it.

The candidate is evaluated with ``mlflow.models.evaluate`` (default classifier evaluator) on the
validation split (all columns; each model selects its own features) inside the active run, so
its metrics land on the training run. When the registered model already has a ``champion``
alias, that version is evaluated on the same data in a nested run
(``glasswatch.gate.role=baseline``) and the candidate must also not be worse.
``mlflow.validate_evaluation_results`` (MLflow 3's replacement of ``evaluate(...,
validation_thresholds=...)``) applies the thresholds.

Decisions
---------
* Absolute thresholds are minimums of greater-is-better metrics (``roc_auc``,
  ``accuracy_score``, ...). Against the champion every thresholded metric gets
  ``MetricThreshold(min_relative_change=...)``; the default ``0.0`` means "not worse" (MLflow
  refuses ``min_absolute_change=0``), so retraining with the same seed passes.
* SHAP explainability of the evaluator is switched off: the pipeline logs its own SHAP summary,
  and the evaluator's would double the gate's run time.
* A failed gate raises :class:`GateFailed` *after* the ``quality_gate`` alert went to the
  injected :data:`~glasswatch.training.alert_sink.AlertSink` (the alerts topic or the
  notifiers, wired by the ``train`` command): callers that catch it still get the notification.
  A sink that fails is logged and does not hide the refusal (``GateFailed`` is raised anyway).
* The alert's ``evidence["checks"]`` has one row per thresholded metric: candidate value,
  minimum, champion value, and whether it failed (``below_minimum`` / ``worse_than_champion``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.exceptions import MlflowException
from mlflow.models import MetricThreshold
from mlflow.tracking import MlflowClient

from glasswatch.errors import GateFailed, GlasswatchError
from glasswatch.schemas.alert import Alert, AlertKind, Lineage, Severity
from glasswatch.training import tags as tag
from glasswatch.training.alert_sink import AlertSink, log_sink
from glasswatch.training.tracking import import_pyfunc_quietly

__all__ = ["GateConfig", "GateResult", "champion_version", "enforce", "evaluate_gate", "gate_alert"]

log = logging.getLogger("glasswatch.training")

_EVALUATOR_CONFIG = {"log_model_explainability": False}


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gate.

    >>> GateConfig().minimums["roc_auc"], GateConfig().min_relative_change
    (0.9, 0.0)
    """

    minimums: Mapping[str, float] = field(
        default_factory=lambda: {"roc_auc": 0.9, "accuracy_score": 0.85}
    )
    min_relative_change: float = 0.0
    alias: str = "champion"

    def thresholds(self, with_baseline: bool) -> dict[str, MetricThreshold]:
        return {
            name: MetricThreshold(  # type: ignore[no-untyped-call]
                threshold=float(minimum),
                min_relative_change=float(self.min_relative_change) if with_baseline else None,
                greater_is_better=True,
            )
            for name, minimum in self.minimums.items()
        }


@dataclass(frozen=True)
class GateResult:
    """What the gate saw and decided."""

    passed: bool
    candidate_metrics: Mapping[str, float]
    champion_version: str | None = None
    champion_metrics: Mapping[str, float] | None = None
    reason: str = ""


def champion_version(client: MlflowClient, model_name: str, alias: str = "champion") -> str | None:
    """Version number behind ``alias``, or None when the model or the alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def _evaluate(model_uri: str, data: pd.DataFrame | PandasDataset, targets: str) -> dict[str, float]:
    import_pyfunc_quietly()
    with warnings.catch_warnings():
        # the evaluator re-infers the schema of integer labels and hints about missing values
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        result = mlflow.models.evaluate(  # type: ignore[no-untyped-call]
            model=model_uri,
            data=data,
            targets=None if isinstance(data, PandasDataset) else targets,
            model_type="classifier",
            evaluators="default",
            evaluator_config=_EVALUATOR_CONFIG,
        )
    return {k: float(v) for k, v in result.metrics.items() if isinstance(v, int | float)}


class _Metrics:
    """Duck-typed stand-in for ``EvaluationResult`` (the validator only reads ``.metrics``)."""

    def __init__(self, metrics: Mapping[str, float]) -> None:
        self.metrics = dict(metrics)


def evaluate_gate(
    candidate_uri: str,
    data: pd.DataFrame | PandasDataset,
    targets: str,
    model_name: str,
    config: GateConfig | None = None,
    client: MlflowClient | None = None,
) -> GateResult:
    """Evaluate the candidate (and the champion, if any) and apply the thresholds.

    Needs an active run (the candidate's metrics are logged there). Pass ``data`` as the
    :class:`PandasDataset` already logged by ``log_dataset`` so no untagged input is added
    (``targets`` is then taken from the dataset). Never raises on a
    failed gate; see :func:`enforce` for the raising, notifying variant.
    """
    cfg = config or GateConfig()
    mlc = client or MlflowClient()
    candidate = _evaluate(candidate_uri, data, targets)
    champion = champion_version(mlc, model_name, cfg.alias)
    baseline: dict[str, float] | None = None
    if champion is not None:
        with mlflow.start_run(nested=True, run_name=f"gate-baseline-{model_name}-v{champion}",
                              tags={tag.GATE_ROLE: "baseline"}):
            baseline = _evaluate(f"models:/{model_name}@{cfg.alias}", data, targets)
    try:
        mlflow.validate_evaluation_results(
            validation_thresholds=cfg.thresholds(with_baseline=baseline is not None),
            candidate_result=_Metrics(candidate),  # type: ignore[arg-type]
            baseline_result=_Metrics(baseline) if baseline is not None else None,  # type: ignore[arg-type]
        )
    except MlflowException as exc:
        return GateResult(False, candidate, champion, baseline, reason=exc.message)
    return GateResult(True, candidate, champion, baseline)


def _checks(result: GateResult, config: GateConfig) -> list[dict[str, Any]]:
    """One row per thresholded metric: what the candidate scored against what it had to beat."""
    rows = []
    for metric, minimum in sorted(config.minimums.items()):
        value = result.candidate_metrics.get(metric)
        champion = (result.champion_metrics or {}).get(metric)
        below = value is None or value < minimum
        worse = (champion is not None and value is not None
                 and value < champion * (1.0 + config.min_relative_change))
        rows.append({"metric": metric, "value": value, "minimum": float(minimum), "champion": champion,
                     "below_minimum": below, "worse_than_champion": worse})
    return rows


def gate_alert(model_name: str, result: GateResult, config: GateConfig, lineage: Lineage) -> Alert:
    """The ``quality_gate`` warning for a refused candidate."""
    evidence: dict[str, Any] = {
        "reason": result.reason,
        "checks": _checks(result, config),
        "candidate_metrics": dict(result.candidate_metrics),
        "minimums": dict(config.minimums),
        "min_relative_change": config.min_relative_change,
        "champion_version": result.champion_version,
        "champion_metrics": dict(result.champion_metrics) if result.champion_metrics else None,
    }
    return Alert.build(
        kind=AlertKind.QUALITY_GATE,
        severity=Severity.WARNING,
        model=model_name,
        signal="gate:" + ",".join(sorted(config.minimums)),
        summary=f"candidate for {model_name} refused by the quality gate",
        starts_at=datetime.now(UTC),
        evidence=evidence,
        lineage=lineage,
    )


def enforce(
    result: GateResult,
    model_name: str,
    config: GateConfig | None = None,
    *,
    lineage: Lineage | None = None,
    sink: AlertSink = log_sink,
) -> GateResult:
    """Return ``result`` when it passed; otherwise send one ``quality_gate`` alert to ``sink`` and
    raise :class:`GateFailed` (also when the sink failed: that is logged, the refusal stands)."""
    if result.passed:
        return result
    cfg = config or GateConfig()
    alert = gate_alert(model_name, result, cfg, lineage or Lineage())
    try:
        sink(alert)
    except GlasswatchError as exc:
        log.error("quality gate alert %s for %s was not delivered: %s", alert.fingerprint, model_name, exc)
    raise GateFailed(f"{alert.summary}: {result.reason}")
