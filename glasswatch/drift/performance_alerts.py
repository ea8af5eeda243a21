"""The alerts of :class:`~glasswatch.drift.performance.PerformanceMonitor`: which metrics fail,
the evidence, and the ``performance_drop`` / ``concept_drift`` alerts themselves.

A greater-is-better metric fails below ``reference − tolerance``; log loss, MAE and RMSE above
``reference × (1 + relative_tolerance)``; calibration error (and any other smaller-is-better
metric bounded by 1) above ``reference + tolerance``. Alerts are warnings, labelled with the model
version and ``inputs_drifted`` (``yes``/``no``/``unknown``, also told in the summary), stamped with
the label event time of the pair that raised (or resolved) them.

Examples
--------
>>> failing = failing_metrics({"accuracy_score": 0.7, "log_loss": 0.5, "f1_score": 0.8},
...                           {"accuracy_score": 0.9, "log_loss": 0.3, "f1_score": 0.8},
...                           tolerance=0.05, relative_tolerance=0.2)
>>> [(f["metric"], f["value"], f["allowed"]) for f in failing]
[('accuracy_score', 0.7, 0.85), ('log_loss', 0.5, 0.36)]
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from glasswatch.drift.metrics import GREATER_IS_BETTER
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, Severity
from glasswatch.schemas.events import EPOCH

__all__ = [
    "detector_state",
    "failing_metrics",
    "firing_alert",
    "label_time",
    "resolved_alert",
    "rounded",
    "window_evidence",
]

_UNBOUNDED = frozenset({"log_loss", "mean_absolute_error", "root_mean_squared_error"})
_TAIL = {"no": "; inputs did not drift", "yes": "; inputs drifted too", "unknown": "; input drift unknown"}


def label_time(ms: int) -> datetime:
    """A label event time (ms since the epoch) as an aware datetime."""
    return EPOCH + timedelta(milliseconds=ms)


def rounded(x: float) -> float:
    """Figures as evidence shows them (6 decimals: the same pairs give the same alert)."""
    return round(x, 6)


def failing_metrics(
    metrics: dict[str, float], reference: dict[str, float], *, tolerance: float, relative_tolerance: float
) -> list[dict[str, Any]]:
    """The metrics of ``metrics`` worse than ``reference`` by more than allowed, by name."""
    out = []
    for name in sorted(set(metrics) & set(reference) & set(GREATER_IS_BETTER)):
        value, want = metrics[name], reference[name]
        if GREATER_IS_BETTER[name]:
            bound, bad = want - tolerance, value < want - tolerance
        elif name in _UNBOUNDED:
            bound = want * (1 + relative_tolerance)
            bad = value > bound
        else:
            bound, bad = want + tolerance, value > want + tolerance
        if bad:
            out.append({"metric": name, "value": rounded(value), "registered": rounded(want),
                        "allowed": rounded(bound)})  # fmt: skip
    return out


def detector_state(
    detector: Any, *, delta: float, labelled: int, error_rate: float, before: float | None = None
) -> dict[str, Any]:
    """What evidence says of the error detector: its name, ``delta``, the pairs it saw, the error
    rate now (and ``before`` the rise) and, for ADWIN, its window width."""
    out: dict[str, Any] = {"name": type(detector).__name__, "delta": delta, "labelled": labelled}
    if math.isfinite(error_rate):
        out["error_rate"] = rounded(error_rate)
    if hasattr(detector, "width"):
        out["width"] = int(detector.width)
    if before is not None and math.isfinite(before):
        out["error_rate_before"] = rounded(float(before))
    return out


def window_evidence(
    *,
    task: str | None,
    metrics: dict[str, float],
    reference: dict[str, float] | None,
    source: str,
    tolerance: float,
    relative_tolerance: float,
    labelled: int,
    first_ms: int,
    last_ms: int,
    detector: dict[str, Any],
    inputs_drifted: bool | None,
) -> dict[str, Any]:
    """The evidence of a window of labelled predictions (``source``: where ``reference`` comes
    from, ``registered`` or ``first_window``)."""
    return {
        "task": task,
        "metrics": {k: rounded(v) for k, v in metrics.items() if math.isfinite(v)},
        "registered": {k: rounded(v) for k, v in (reference or {}).items() if math.isfinite(v)},
        "reference_source": source if reference else "none",
        "tolerance": tolerance,
        "relative_tolerance": relative_tolerance,
        "window": {
            "labelled": labelled,
            "from": label_time(first_ms).isoformat(),
            "to": label_time(last_ms).isoformat(),
        },
        "detector": detector,
        "inputs_drifted": {True: "yes", False: "no", None: "unknown"}[inputs_drifted],
    }


def _signal(kind: AlertKind, model_version: str) -> str:
    what = "performance" if kind is AlertKind.PERFORMANCE_DROP else "error_rate"
    return f"{what}:{model_version}"


def firing_alert(
    kind: AlertKind, *, model: str, model_version: str, summary: str, at_ms: int, evidence: dict[str, Any]
) -> Alert:
    """A firing ``performance_drop`` or ``concept_drift`` warning raised at label time ``at_ms``."""
    drifted = evidence["inputs_drifted"]
    return Alert.build(
        kind=kind, severity=Severity.WARNING, model=model, signal=_signal(kind, model_version),
        summary=f"{model} v{model_version}: {summary}{_TAIL[drifted]}",
        starts_at=label_time(at_ms), evidence=evidence,
        labels={"model_version": model_version, "inputs_drifted": drifted},
        lineage=Lineage(model_version=model_version),
    )  # fmt: skip


def resolved_alert(opened: Alert, *, model_version: str, at_ms: int, evidence: dict[str, Any]) -> Alert:
    """The resolution of ``opened`` at label time ``at_ms``."""
    return Alert.build(
        kind=opened.kind,
        severity=opened.severity,
        model=opened.model,
        signal=opened.signal,
        summary=f"{opened.model} v{model_version}: {opened.kind.value} resolved",
        starts_at=opened.starts_at,
        status=AlertStatus.RESOLVED,
        ends_at=label_time(at_ms),
        evidence=evidence,
        labels={"model_version": model_version},
        lineage=opened.lineage,
    )
