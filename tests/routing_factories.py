"""Small alert factories for the routing tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Severity

__all__ = ["T0", "alert", "resolved"]

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def alert(
    signal: str = "feature:age",
    *,
    model: str = "churn",
    kind: AlertKind = AlertKind.DATA_DRIFT,
    severity: Severity = Severity.WARNING,
    starts_at: datetime = T0,
    **kw: Any,
) -> Alert:
    return Alert.build(
        kind=kind,
        severity=severity,
        model=model,
        signal=signal,
        summary=f"{model} {signal} {kind.value}",
        starts_at=starts_at,
        **kw,
    )


def resolved(a: Alert, after: timedelta = timedelta(minutes=10)) -> Alert:
    """The resolved state of ``a`` (same fingerprint and episode)."""
    return Alert.build(
        kind=a.kind,
        severity=a.severity,
        model=a.model,
        signal=a.signal,
        summary=a.summary,
        starts_at=a.starts_at,
        status=AlertStatus.RESOLVED,
        ends_at=a.starts_at + after,
        labels={k: v for k, v in a.labels.items() if k not in ("model", "kind", "severity", "signal")},
        evidence=dict(a.evidence),
        replay_command=a.replay_command,
    )
