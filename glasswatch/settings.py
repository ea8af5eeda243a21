"""Typed, frozen settings. Read from the environment (prefix ``GLASSWATCH_``, nested with
``__``) only by :mod:`glasswatch.cli`; everything else receives a :class:`Settings` value.

Examples
--------
>>> KafkaSettings().bootstrap, TopicSettings().dead_letters
('127.0.0.1:9092', 'glasswatch-dlq')
>>> Settings(kafka=KafkaSettings(bootstrap="b:1")).kafka.bootstrap
'b:1'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "KafkaSettings",
    "MlflowSettings",
    "NotifySettings",
    "Settings",
    "TopicSettings",
    "ValidationSettings",
    "WorkerSettings",
    "disable_telemetry",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap: str = "127.0.0.1:9092"
    """host:port list of the brokers (``GLASSWATCH_KAFKA__BOOTSTRAP``)."""
    partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1)


class TopicSettings(_Section):
    predictions: str = "glasswatch-predictions"
    features: str = "glasswatch-features"
    labels: str = "glasswatch-labels"
    dead_letters: str = "glasswatch-dlq"
    windows: str = "glasswatch-windows"
    alerts: str = "glasswatch-alerts"
    silences: str = "glasswatch-silences"
    explanations: str = "glasswatch-explanations"
    """Sampled SHAP explanations and window attribution profiles (:mod:`glasswatch.agents.explain`)."""
    drift_verdicts: str = ""
    """The drift process's latest verdict per model version (compacted; read by the label join for
    ``inputs_drifted``, see :mod:`glasswatch.drift.verdict`). Default ``<windows>.verdicts``."""
    acks: str = ""
    """Acknowledgements of alerts (compacted, keyed by fingerprint; see
    :mod:`glasswatch.schemas.ack`). Default ``<alerts>.acks``."""
    baseline_accepts: str = ""
    """Accepted new normals (``glasswatch baseline accept``; a log keyed by model, kept a year; see
    :mod:`glasswatch.schemas.baseline_accept`). Default ``<alerts>.baseline-accepts``."""
    router_state: str = ""
    """The router's state (compacted): Slack thread per alert, firing alerts for inhibition, so a
    restarted router threads resolves and inhibits as before. Default ``<alerts>.router-state``."""
    deliveries: str = ""
    """The router's delivery log (compacted): what was delivered, so a restart re-pages no one.
    Default ``<alerts>.deliveries``: it belongs to one alerts topic (two alerts topics sharing a log
    would each see the other's deliveries as their own and page no one)."""

    @model_validator(mode="after")
    def _deliveries_follow_alerts(self) -> TopicSettings:
        if not self.deliveries:
            object.__setattr__(self, "deliveries", f"{self.alerts}.deliveries")
        if not self.drift_verdicts:
            object.__setattr__(self, "drift_verdicts", f"{self.windows}.verdicts")
        if not self.acks:
            object.__setattr__(self, "acks", f"{self.alerts}.acks")
        if not self.router_state:
            object.__setattr__(self, "router_state", f"{self.alerts}.router-state")
        if not self.baseline_accepts:
            object.__setattr__(self, "baseline_accepts", f"{self.alerts}.baseline-accepts")
        return self


class ValidationSettings(_Section):
    max_message_bytes: int = Field(default=900_000, ge=1024)
    """Larger messages are dead-lettered as ``oversize`` (kept under the broker's 1 MiB default)."""
    max_clock_skew_s: float = Field(default=3600.0, gt=0)
    """Events whose time is further in the future than this are refused (``clock_skew``)."""
    max_age_s: float = Field(default=7 * 86400.0, gt=0)
    """Events older than this are refused (``clock_skew``)."""


class WorkerSettings(_Section):
    app_id: str = "glasswatch"
    data_dir: Path = Path(".glasswatch/worker")
    web_port: int = Field(default=6066, ge=1, le=65535)
    web_host: str = "127.0.0.1"
    """Address the worker's web server binds (``GLASSWATCH_WORKER__WEB_HOST``); the image sets
    ``0.0.0.0`` so a published port reaches it. Alert links use :attr:`base_url`, never this."""
    public_url: str | None = None
    """Base URL of the worker's pages in alert links (default ``http://127.0.0.1:<web_port>``)."""
    monitors: bool = True
    """Run the online monitors (windows, thresholds, drift detectors, anomaly scoring)."""
    baselines: bool = True
    """Arm a new model version's bands and detectors from its reference data (the spec's
    ``baseline`` section: a file, or the version's reference in MLflow), so they need no warm-up;
    ``false``: learned bands only (``GLASSWATCH_WORKER__BASELINES``)."""
    labels: bool = True
    """Join label events to their predictions (performance_drop, concept_drift); costs a second
    decode of every prediction message. (It was opt-in while a loss under rebalance with two
    agents on the predictions topic was unexplained; :mod:`glasswatch.kafka.gaps` is the fix.)"""
    label_ttl_s: float = Field(default=2 * 86400.0, gt=0)
    """A prediction waits this long (label event time) for its label; later labels are counted as
    ``late_labels``, predictions never labelled as ``expired``."""
    monitor_specs: Path | None = None
    """A YAML monitor spec file or a folder of them; models without a spec get the defaults."""
    idle_after_s: float = Field(default=60.0, gt=0)
    """An input partition without data for this long (wall clock) gets idle ticks."""
    idle_tick_s: float = Field(default=10.0, ge=0)
    """How often the worker checks for idle partitions and writes a tick (0 = never)."""
    store: str = "rocksdb://"
    """Faust table store: ``rocksdb://`` (rocksdict) persists across restarts; ``memory://`` not."""
    log_repeat_s: float = Field(default=30.0, ge=0)
    """Repeated warnings of one kind (e.g. broker connection errors) are logged once per this many
    seconds, with the count of those dropped (0 = log every one)."""
    state_key: SecretStr | None = None
    """Key that signs the partition state in the changelog (``GLASSWATCH_WORKER__STATE_KEY``, at
    least 16 characters). Unset: generated once into ``<data_dir>/state.key`` (mode 0600). Every
    worker of one consumer group must use the same key; a state signed with another is refused."""
    accept_legacy_state: bool = False
    """Read the unsigned partition state of the release before the signed format (through the
    restricted unpickler). Set it for the first start after such an upgrade, then remove it."""

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.web_port}").rstrip("/")


class MlflowSettings(_Section):
    tracking_uri: str = "sqlite:///.glasswatch/mlflow.db"
    experiment: str = "glasswatch"


class NotifySettings(_Section):
    slack_token: SecretStr | None = None
    slack_channel: str = "#ml-alerts"
    pagerduty_routing_key: SecretStr | None = None
    desktop: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GLASSWATCH_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    env: str = "local"
    project: str = "glasswatch"
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    validation: ValidationSettings = ValidationSettings()
    worker: WorkerSettings = WorkerSettings()
    mlflow: MlflowSettings = MlflowSettings()
    notify: NotifySettings = NotifySettings()

    def config_hash(self) -> str:
        """Digest of the non-secret configuration (recorded in alert lineage)."""
        data = self.model_dump(mode="json", exclude={"notify"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def disable_telemetry() -> None:
    """Turn off the phone-home of dependencies unless the user opted in explicitly."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
