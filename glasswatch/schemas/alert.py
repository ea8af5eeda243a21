"""The alert contract: what a detector, drift job or gate publishes to the alerts topic.

An alert explains itself (``evidence``), carries its ``lineage`` and links to a dashboard page
and a playbook. ``fingerprint`` is stable for one condition (model, kind, signal, ...), so the
same condition never yields two open alerts and PagerDuty's ``dedup_key`` can use it.

Examples
--------
>>> from datetime import datetime, timezone
>>> a = Alert.build(kind=AlertKind.THRESHOLD_STATIC, severity=Severity.WARNING, model="churn",
...                 signal="feature:age:mean", summary="mean of age above 60",
...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> a.fingerprint == fingerprint_of("churn", "threshold_static", "feature:age:mean")
True
>>> a.labels["severity"], a.status.value
('warning', 'firing')
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Alert",
    "AlertKind",
    "AlertStatus",
    "Lineage",
    "Links",
    "OffsetRange",
    "Severity",
    "fingerprint_of",
]


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertKind(StrEnum):
    """Every kind has a playbook at ``docs/playbooks/<value>.md``."""

    THRESHOLD_STATIC = "threshold_static"
    THRESHOLD_DYNAMIC = "threshold_dynamic"
    ANOMALY_RATE = "anomaly_rate"
    DRIFT_DETECTOR = "drift_detector"
    DATA_DRIFT = "data_drift"
    CONCEPT_DRIFT = "concept_drift"
    MISSING_RATE = "missing_rate"
    EVENT_RATE = "event_rate"
    DEAD_LETTERS = "dead_letters"
    SCHEMA_BREAK = "schema_break"
    UPSTREAM_OUTAGE = "upstream_outage"
    QUALITY_GATE = "quality_gate"


class OffsetRange(BaseModel):
    """Kafka coordinates of the events behind a result: replay them to reproduce it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    topic: str
    partition: int = Field(ge=0)
    first: int = Field(ge=0)
    last: int = Field(ge=0)


class Lineage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    model_version: str | None = None
    mlflow_run_id: str | None = None
    reference_digest: str | None = None
    offsets: tuple[OffsetRange, ...] = ()
    git_commit: str | None = None
    config_hash: str | None = None


class Links(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    dashboard: str
    playbook: str
    mlflow_run: str | None = None


def fingerprint_of(model: str, kind: str, signal: str) -> str:
    """Stable identity of one alert condition (16 hex chars)."""
    return hashlib.sha256(f"{model}\x1f{kind}\x1f{signal}".encode()).hexdigest()[:16]


PLAYBOOK_BASE = "http://127.0.0.1:6066/playbooks"
"""Served by the worker (``/playbooks/<kind>.md``); the files live in ``docs/playbooks/``."""
DASHBOARD_BASE = "http://127.0.0.1:6066/alerts"


class Alert(BaseModel):
    """One firing or resolved alert. Never contains secrets."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: int = 1
    id: str
    fingerprint: str
    status: AlertStatus = AlertStatus.FIRING
    severity: Severity
    kind: AlertKind
    model: str
    signal: str
    summary: str
    labels: dict[str, str] = Field(default_factory=dict)
    evidence: dict[str, Any] = Field(default_factory=dict)
    lineage: Lineage = Field(default_factory=Lineage)
    links: Links
    replay_command: str | None = None
    starts_at: datetime
    ends_at: datetime | None = None

    def with_base_url(self, base: str) -> Alert:
        """The same alert with its dashboard and playbook links on the worker at ``base``."""
        base = base.rstrip("/")
        links = self.links.model_copy(
            update={
                "dashboard": f"{base}/alerts/{self.fingerprint}/",
                "playbook": f"{base}/playbooks/{self.kind.value}.md",
            }
        )
        return self.model_copy(update={"links": links})

    @classmethod
    def build(
        cls,
        *,
        kind: AlertKind,
        severity: Severity,
        model: str,
        signal: str,
        summary: str,
        starts_at: datetime,
        status: AlertStatus = AlertStatus.FIRING,
        labels: dict[str, str] | None = None,
        evidence: dict[str, Any] | None = None,
        lineage: Lineage | None = None,
        replay_command: str | None = None,
        ends_at: datetime | None = None,
        dashboard_base: str = DASHBOARD_BASE,
        playbook_base: str = PLAYBOOK_BASE,
        mlflow_run_url: str | None = None,
    ) -> Alert:
        """Fill the derived fields (fingerprint, id, labels, links) consistently."""
        fp = fingerprint_of(model, kind.value, signal)
        stamp = (ends_at if status is AlertStatus.RESOLVED and ends_at else starts_at).isoformat()
        alert_id = hashlib.sha256(f"{fp}\x1f{status.value}\x1f{stamp}".encode()).hexdigest()[:20]
        base_labels = {"model": model, "kind": kind.value, "severity": severity.value, "signal": signal}
        base_labels.update(labels or {})
        return cls(
            id=alert_id,
            fingerprint=fp,
            status=status,
            severity=severity,
            kind=kind,
            model=model,
            signal=signal,
            summary=summary,
            labels=base_labels,
            evidence=evidence or {},
            lineage=lineage or Lineage(),
            links=Links(
                dashboard=f"{dashboard_base}/{fp}/",
                playbook=f"{playbook_base}/{kind.value}.md",
                mlflow_run=mlflow_run_url,
            ),
            replay_command=replay_command,
            starts_at=starts_at,
            ends_at=ends_at,
        )
