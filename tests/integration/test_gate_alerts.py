"""The quality gate's alert on a real Kafka broker: the record the router reads.

The ``train`` command's kafka sink writes the gate's ``quality_gate`` alert to the alerts topic
in the worker's record format (key = fingerprint, value = the alert's JSON), which the router
parses with ``Alert.model_validate_json``; ``auto`` uses the broker when it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from glasswatch.commands.train import AlertsMode, gate_sink
from glasswatch.errors import BrokerError, GateFailed
from glasswatch.kafka.alert_publisher import AlertPublisher
from glasswatch.kafka.reader import read_topic
from glasswatch.schemas.alert import Alert, AlertKind, Lineage, Severity
from glasswatch.settings import KafkaSettings, Settings, TopicSettings
from glasswatch.training.gate import GateConfig, GateResult, enforce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REFUSED = GateResult(False, {"roc_auc": 0.7, "accuracy_score": 0.9}, champion_version="3",
                     champion_metrics={"roc_auc": 0.95, "accuracy_score": 0.9},
                     reason="roc_auc value threshold check failed")
LINEAGE = Lineage(model_version="4", mlflow_run_id="run-1", reference_digest="abc", git_commit="f00")


def _settings(bootstrap: str, topic: str) -> Settings:
    return Settings(kafka=KafkaSettings(bootstrap=bootstrap), topics=TopicSettings(alerts=topic))


def _records(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    return [(m.key, m.value) for m in asyncio.run(read_topic(bootstrap, topic, timeout_s=30))]


def test_kafka_sink_writes_the_gate_alert_as_a_record_the_router_parses(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic(prefix="gate-alerts")
    settings = _settings(kafka_bootstrap, topic)
    sink = gate_sink(AlertsMode.KAFKA, settings, desktop=False, environ={})
    with pytest.raises(GateFailed, match="refused by the quality gate"):
        enforce(REFUSED, "churn", GateConfig(), lineage=LINEAGE, sink=sink)

    ((key, value),) = _records(kafka_bootstrap, topic)
    alert = Alert.model_validate_json(value or b"")  # exactly what the router does with a record
    assert key == alert.fingerprint.encode()
    assert (alert.kind, alert.severity, alert.model) == (AlertKind.QUALITY_GATE, Severity.WARNING, "churn")
    assert alert.lineage == LINEAGE
    checks = {row["metric"]: row for row in alert.evidence["checks"]}
    assert checks["roc_auc"] == {"metric": "roc_auc", "value": 0.7, "minimum": 0.9, "champion": 0.95,
                                 "below_minimum": True, "worse_than_champion": True}
    assert checks["accuracy_score"]["below_minimum"] is False
    # links point at the worker's pages, as for the worker's own alerts
    base = settings.worker.base_url.rstrip("/")
    assert alert.links.dashboard == f"{base}/alerts/{alert.fingerprint}/"
    assert alert.links.playbook == f"{base}/playbooks/quality_gate.md"


def test_auto_publishes_to_kafka_when_the_broker_answers(
    kafka_bootstrap: str, new_topic: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    topic = new_topic(prefix="gate-alerts")
    sink = gate_sink(AlertsMode.AUTO, _settings(kafka_bootstrap, topic), desktop=False, environ={})
    with caplog.at_level(logging.INFO, logger="glasswatch"), pytest.raises(GateFailed):
        enforce(REFUSED, "churn", lineage=LINEAGE, sink=sink)
    ((_, value),) = _records(kafka_bootstrap, topic)
    assert Alert.model_validate_json(value or b"").kind is AlertKind.QUALITY_GATE
    assert not [r for r in caplog.records if r.name == "glasswatch.alerts"]  # not delivered locally too
    assert "fallback" not in caplog.text


def test_publisher_gives_up_within_its_timeout_when_there_is_no_broker() -> None:
    publisher = AlertPublisher("127.0.0.1:1", "nowhere", timeout_s=2.0)
    alert = Alert.build(kind=AlertKind.QUALITY_GATE, severity=Severity.WARNING, model="m",
                        signal="gate:roc_auc", summary="refused",
                        starts_at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(BrokerError, match=r"cannot publish to nowhere at 127\.0\.0\.1:1"):
        publisher(alert)
