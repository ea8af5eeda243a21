"""From a signal's decision to an :class:`~glasswatch.schemas.alert.Alert`: kind, evidence, lineage.

The kind follows the signal and the decision's source (``static``, ``dynamic`` or
``detector:<kind>``):

=======================================  ==============================================
``*:missing_rate``                       ``missing_rate`` (static or learned band)
``events:rate``, ``events:gap``          ``event_rate``
``anomaly:rate``                         ``anomaly_rate``
any other signal, static / learned band  ``threshold_static`` / ``threshold_dynamic``
any signal, drift detector               ``drift_detector``
=======================================  ==============================================

Examples
--------
>>> alert_kind("feature:age:missing_rate", "dynamic").value
'missing_rate'
>>> alert_kind("feature:age:mean", "detector:adwin").value
'drift_detector'
>>> rate_like("anomaly:rate"), rate_like("feature:age:mean")
(True, False)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from glasswatch.monitor.summary import WindowSummary
from glasswatch.monitor.thresholds import Decision
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, OffsetRange, Severity

__all__ = ["alert_kind", "make_alert", "rate_like", "replay_command"]


def rate_like(signal: str) -> bool:
    """Signals that are fractions and only alert upwards (missing rate, category mix, anomaly rate)."""
    return signal.endswith((":missing_rate", ":category_mix")) or signal == "anomaly:rate"


def alert_kind(signal: str, source: str) -> AlertKind:
    if source.startswith("detector:"):
        return AlertKind.DRIFT_DETECTOR
    if signal.endswith(":missing_rate"):
        return AlertKind.MISSING_RATE
    if signal.startswith("events:"):
        return AlertKind.EVENT_RATE
    if signal == "anomaly:rate":
        return AlertKind.ANOMALY_RATE
    return AlertKind.THRESHOLD_STATIC if source == "static" else AlertKind.THRESHOLD_DYNAMIC


def replay_command(model: str, offsets: tuple[OffsetRange, ...]) -> str:
    return f"glasswatch replay --model {model}" + "".join(
        f" --offsets {o.topic}:{o.partition}:{o.first}-{o.last}" for o in offsets
    )


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def make_alert(
    *,
    model: str,
    signal: str,
    source: str,
    decision: Decision,
    severity: str,
    summary: WindowSummary,
    config_hash: str,
    fired_at: datetime | None = None,
) -> Alert:
    """A firing alert, or (with ``fired_at``, when the condition opened) its resolve."""
    resolved = fired_at is not None
    lo, hi = decision.band
    evidence: dict[str, Any] = {
        "signal": signal,
        "source": source,
        "value": decision.value,
        "window_start": summary.start.isoformat(),
        "window_end": summary.end.isoformat(),
        "count": summary.count,
        "score": decision.score,
    }
    if source.startswith("detector:"):
        evidence["detector"] = source.split(":", 1)[1]
        what = f"drift detected by {evidence['detector']} on {signal}"
    else:
        evidence["band" if source == "dynamic" else "threshold"] = [lo, hi]
        what = f"{signal} = {_fmt(decision.value)} outside [{_fmt(lo)}, {_fmt(hi)}]"
    return Alert.build(
        kind=alert_kind(signal, source),
        severity=Severity(severity),
        model=model,
        signal=signal,
        summary=(f"resolved: {signal} back to normal" if resolved else what),
        starts_at=fired_at if fired_at is not None else summary.end,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels={"source": source},
        evidence=evidence,
        lineage=Lineage(
            model_version=summary.model_version, offsets=summary.offsets, config_hash=config_hash
        ),
        replay_command=replay_command(model, summary.offsets),
        ends_at=summary.end if resolved else None,
    )
