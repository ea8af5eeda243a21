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

Ids and fingerprints are the hex digests :meth:`Alert.build` makes, and every link is http(s):
a record forged on the alerts topic with a ``javascript:`` link or markup in its id is refused.

>>> Alert.model_validate({**a.model_dump(), "links": {**a.links.model_dump(),
...                       "mlflow_run": "javascript:alert(1)"}})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Alert
links.mlflow_run
  Value error, not an http(s) URL: 'javascript:alert(1)' [...]
...
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from glasswatch.schemas.coords import OffsetRange

__all__ = [
    "ALERT_ID_HEX",
    "DASHBOARD_BASE",
    "FINGERPRINT_HEX",
    "PLAYBOOK_BASE",
    "Alert",
    "AlertId",
    "AlertKind",
    "AlertStatus",
    "Fingerprint",
    "HttpLink",
    "Lineage",
    "Links",
    "Severity",
    "fingerprint_of",
    "http_link",
]

FINGERPRINT_HEX = 16
"""Hex digits of a fingerprint (:func:`fingerprint_of`)."""
ALERT_ID_HEX = 20
"""Hex digits of an alert id (:meth:`Alert.build`)."""

Fingerprint = Annotated[str, StringConstraints(pattern=rf"^[0-9a-f]{{{FINGERPRINT_HEX}}}$")]
AlertId = Annotated[str, StringConstraints(pattern=rf"^[0-9a-f]{{{ALERT_ID_HEX}}}$")]


def http_link(url: str) -> str:
    """``url`` when it is an absolute http(s) URL with a host and no whitespace or control
    characters; ``ValueError`` otherwise (``javascript:``, ``data:``, relative, ...).

    >>> http_link("https://mlflow.example.com/#/experiments/1/runs/abc")
    'https://mlflow.example.com/#/experiments/1/runs/abc'
    >>> http_link(" JavaScript:alert(1)")
    Traceback (most recent call last):
    ...
    ValueError: not an http(s) URL: ' JavaScript:alert(1)'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url)
    ):
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


HttpLink = Annotated[
    str,
    AfterValidator(http_link),
    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https?://[^\\s/?#]+"}),
]
"""A string field that holds an absolute http(s) URL (what a page may turn into a link)."""


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
    FEATURE_DRIFT = "feature_drift"
    PREDICTION_DRIFT = "prediction_drift"
    NO_REFERENCE = "no_reference"
    CONCEPT_DRIFT = "concept_drift"
    PERFORMANCE_DROP = "performance_drop"
    MISSING_RATE = "missing_rate"
    EVENT_RATE = "event_rate"
    DEAD_LETTERS = "dead_letters"
    SCHEMA_BREAK = "schema_break"
    UPSTREAM_OUTAGE = "upstream_outage"
    QUALITY_GATE = "quality_gate"
    ATTRIBUTION_DRIFT = "attribution_drift"
    MODEL_UNAVAILABLE = "model_unavailable"


class Lineage(BaseModel):
    """Where an alert comes from. ``offsets``: the messages of the alert's window.
    ``state_offsets``: per source partition, the messages whose replay rebuilds the state that
    raised the alert, from the first offset the worker's partition state applied (learned bands
    and detectors start there) through the last one it had applied when it evaluated the window
    (the message that closed the window is among them); the alert's ``replay_command`` replays
    exactly these. Empty for alerts raised outside a worker's partition state."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    model_version: str | None = None
    mlflow_run_id: str | None = None
    reference_digest: str | None = None
    offsets: tuple[OffsetRange, ...] = ()
    git_commit: str | None = None
    config_hash: str | None = None
    state_offsets: tuple[OffsetRange, ...] = ()


class Links(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    dashboard: HttpLink
    playbook: HttpLink
    mlflow_run: HttpLink | None = None


def fingerprint_of(model: str, kind: str, signal: str) -> str:
    """Stable identity of one alert condition (16 hex chars)."""
    return hashlib.sha256(f"{model}\x1f{kind}\x1f{signal}".encode()).hexdigest()[:FINGERPRINT_HEX]


PLAYBOOK_BASE = "http://127.0.0.1:6066/playbooks"
"""Served by the worker (``/playbooks/<kind>.md``); the files live in ``docs/playbooks/``."""
DASHBOARD_BASE = "http://127.0.0.1:6066/alerts"


class Alert(BaseModel):
    """One firing or resolved alert. Never contains secrets."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: int = 1
    id: AlertId
    fingerprint: Fingerprint
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
        links = Links.model_validate(  # validated: ``base`` must be http(s) too
            {
                **self.links.model_dump(),
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
        alert_id = hashlib.sha256(f"{fp}\x1f{status.value}\x1f{stamp}".encode()).hexdigest()[:ALERT_ID_HEX]
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
