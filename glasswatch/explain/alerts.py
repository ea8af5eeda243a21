"""The explain process's alerts: ``model_unavailable`` and ``attribution_drift``.

:class:`ExplainAlerts` keeps which conditions are open, so a version that cannot be loaded
raises one ``model_unavailable`` alert (however many of its events arrive), and
``attribution_drift`` fires when a window's profile drifts and resolves at the first clean one.
Every alert about a model carries the window's top features (mean |SHAP|, mean signed SHAP);
``attribution_drift`` also says which rule fired (``evidence.rules``: the fixed guard and / or
the learned band, :mod:`glasswatch.explain.attribution_drift`) and the learned bands in force.

``attribution_drift`` has two bases, told apart by ``evidence.basis`` and by the signal (so both
can be open at once): ``output`` (signal ``attributions``, the window's mean |SHAP| profile of
the model's output) and ``loss`` (signal ``loss_attributions``, :meth:`ExplainAlerts.loss_window`:
labelled events whose loss contributions show a feature that helped at training time stopped
helping, :mod:`glasswatch.explain.loss_drift`; evidence ``turned`` with the training and window
means).

Examples
--------
>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> a = ExplainAlerts()
>>> len(a.model_unavailable("bc", "7", "no such version", t)), len(a.model_unavailable("bc", "7", "again", t))
(1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from glasswatch.explain.attribution_drift import AttributionComparison
from glasswatch.explain.loss_drift import LossComparison, LossProfile
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, Severity
from glasswatch.schemas.explanation import AttributionWindow

__all__ = ["TOP_FEATURES", "ExplainAlerts", "LoggedArtifacts", "LossWindow", "top_features"]

TOP_FEATURES = 5


class LoggedArtifacts(Protocol):
    """Where a window's explanations were recorded (the explain process's MLflow run)."""

    @property
    def run_id(self) -> str: ...
    @property
    def run_url(self) -> str | None: ...
    @property
    def artifact_uri(self) -> str: ...
    @property
    def waterfall(self) -> str | None: ...


def top_features(window: AttributionWindow, n: int = TOP_FEATURES) -> list[dict[str, float | str]]:
    """The ``n`` features the model relied on most in ``window``, with mean |SHAP| and sign."""
    return [{"feature": f, "mean_abs_shap": v, "mean_shap": window.mean_signed.get(f, 0.0)}
            for f, v in list(window.mean_abs.items())[:n]]


@dataclass(frozen=True)
class LossWindow:
    """One closed event-time window of a version's loss contributions, as judged."""

    model: str
    model_version: str
    start: datetime
    end: datetime
    profile: LossProfile
    comparison: LossComparison


class ExplainAlerts:
    """Open conditions of the explain process (one per model version / per model and basis)."""

    def __init__(self) -> None:
        self.unavailable: set[tuple[str, str]] = set()
        self.drifting: dict[str, Alert] = {}
        self.loss_drifting: dict[str, Alert] = {}

    def model_unavailable(self, model: str, version: str, reason: str, at: datetime) -> tuple[Alert, ...]:
        """One alert per ``(model, version)`` for as long as this process runs."""
        if (model, version) in self.unavailable:
            return ()
        self.unavailable.add((model, version))
        return (Alert.build(
            kind=AlertKind.MODEL_UNAVAILABLE, severity=Severity.WARNING, model=model,
            signal=f"model_version:{version}",
            summary=f"{model} v{version} cannot be loaded for explanations: {reason[:300]}",
            starts_at=at, labels={"model_version": version},
            evidence={"reason": reason[:2000], "model_uri": f"models:/{model}/{version}"},
            lineage=Lineage(model_version=version)),)

    def window(self, w: AttributionWindow, training: dict[str, float], thresholds: dict[str, float],
               *, logged: LoggedArtifacts | None = None,
               comparison: AttributionComparison | None = None) -> tuple[Alert, ...]:
        """The alert transition of one judged window (fire when drifted, resolve when clean);
        ``logged``: the window's MLflow run (linked) and its waterfall PNG (in the evidence);
        ``comparison``: the judgement (which rules fired, the learned bands)."""
        open_alert = self.drifting.get(w.model)
        if w.rank_correlation is None:
            return ()
        evidence: dict[str, Any] = {
            "rank_correlation": w.rank_correlation, "distance": w.distance, "thresholds": thresholds,
            "explanations": w.explanations,
            "window": {"start": w.start.isoformat(), "end": w.end.isoformat()},
            "top_features": top_features(w),
            "training_top_features": list(training)[:TOP_FEATURES],
            "feature_importance_ranks": w.rank,
            "rules": list(comparison.rules) if comparison else [],
            "bands": {k: list(v) for k, v in comparison.bands.items()} if comparison else {},
            "basis": "output",
        }
        if logged is not None:
            evidence |= {"artifacts": logged.artifact_uri, "waterfall": logged.waterfall}
        common = {"kind": AlertKind.ATTRIBUTION_DRIFT, "severity": Severity.WARNING, "model": w.model,
                  "signal": "attributions", "labels": {"model_version": w.model_version},
                  "evidence": evidence, "lineage": Lineage(model_version=w.model_version,
                                                           mlflow_run_id=logged.run_id if logged else None),
                  "mlflow_run_url": logged.run_url if logged else None}
        if w.drifted and open_alert is None:
            summary = (f"{w.model} v{w.model_version} relies on its features differently: rank "
                       f"correlation {w.rank_correlation:.2f}, distance {w.distance:.2f}; top now "
                       f"{', '.join(list(w.mean_abs)[:3])}"
                       + (f" ({', '.join(comparison.rules)})" if comparison and comparison.rules else ""))
            alert = Alert.build(summary=summary, starts_at=w.end, **common)  # type: ignore[arg-type]
            self.drifting[w.model] = alert
            return (alert,)
        if not w.drifted and open_alert is not None:
            del self.drifting[w.model]
            return (Alert.build(summary=f"{w.model} relies on its features as at training again",
                                starts_at=open_alert.starts_at, status=AlertStatus.RESOLVED,
                                ends_at=w.end, **common),)  # type: ignore[arg-type]
        return ()

    def loss_window(self, w: LossWindow, thresholds: dict[str, float]) -> tuple[Alert, ...]:
        """The alert transition of one judged loss window: ``attribution_drift`` with basis
        ``loss`` fires when a feature turned, resolves at the first judged clean window."""
        open_alert = self.loss_drifting.get(w.model)
        window_means = w.profile.mean
        turned = [{"feature": t.feature, "training_mean": t.training_mean, "window_mean": t.window_mean,
                   "z": t.z, "hurts": t.hurts} for t in w.comparison.turned]
        evidence: dict[str, Any] = {
            "basis": "loss", "turned": turned, "labelled": w.comparison.labelled,
            "thresholds": thresholds,
            "window": {"start": w.start.isoformat(), "end": w.end.isoformat()},
            "window_mean_loss_contribution": {f: window_means[f] for f in sorted(
                window_means, key=lambda f: -abs(window_means[f]))[:2 * TOP_FEATURES]},
        }
        common = {"kind": AlertKind.ATTRIBUTION_DRIFT, "severity": Severity.WARNING, "model": w.model,
                  "signal": "loss_attributions", "labels": {"model_version": w.model_version},
                  "evidence": evidence, "lineage": Lineage(model_version=w.model_version)}
        if w.comparison.drifted and open_alert is None:
            names = ", ".join(f"{t.feature} ({t.training_mean:+.3g} -> {t.window_mean:+.3g})"
                              for t in w.comparison.turned[:3])
            summary = (f"{w.model} v{w.model_version}: features that lowered the loss at training "
                       f"stopped helping: {names} (mean loss contribution; {w.comparison.labelled} "
                       "labelled events)")
            alert = Alert.build(summary=summary, starts_at=w.end, **common)  # type: ignore[arg-type]
            self.loss_drifting[w.model] = alert
            return (alert,)
        if not w.comparison.drifted and open_alert is not None:
            del self.loss_drifting[w.model]
            return (Alert.build(summary=f"{w.model}: its features lower the loss as at training again",
                                starts_at=open_alert.starts_at, status=AlertStatus.RESOLVED,
                                ends_at=w.end, **common),)  # type: ignore[arg-type]
        return ()
