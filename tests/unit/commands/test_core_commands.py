"""CLI behaviour that needs no broker: help texts, schema export, settings from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from glasswatch.cli import app, load_settings
from glasswatch.errors import ConfigError

runner = CliRunner()


@pytest.mark.parametrize("command", ["worker", "status", "simulate", "demo", "dlq", "schemas"])
def test_every_command_explains_itself(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) > 3


def test_schemas_export_writes_one_json_schema_per_contract(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        f"{n}.v1.schema.json"
        for n in ["Alert", "BatchEnvelope", "DeadLetter", "FeatureEvent", "LabelEvent", "PredictionEvent"]
    ]
    pred = json.loads((tmp_path / "PredictionEvent.v1.schema.json").read_text())
    assert pred["additionalProperties"] is False
    assert set(pred["required"]) == {"model", "model_version", "prediction_id", "event_time"}
    assert pred["properties"]["schema_version"]["const"] == 1


def test_short_bootstrap_alias_and_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLASSWATCH_KAFKA__BOOTSTRAP", raising=False)
    monkeypatch.setenv("GLASSWATCH_KAFKA_BOOTSTRAP", "broker:29092")
    monkeypatch.setenv("GLASSWATCH_TOPICS__DEAD_LETTERS", "my-dlq")
    s = load_settings()
    assert (s.kafka.bootstrap, s.topics.dead_letters) == ("broker:29092", "my-dlq")


def test_bad_environment_is_a_config_error_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLASSWATCH_KAFKA__PARTITIONS", "zero")
    with pytest.raises(ConfigError, match="partitions"):
        load_settings()


def test_status_without_a_worker_says_how_to_start_one() -> None:
    result = runner.invoke(app, ["status", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "glasswatch worker" in result.output


def test_simulate_without_a_broker_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLASSWATCH_KAFKA__BOOTSTRAP", "127.0.0.1:9")
    result = runner.invoke(app, ["simulate", "--events", "1"])
    assert result.exit_code == 2
    assert "cannot reach Kafka" in result.output


def test_exported_schema_accepts_what_the_generator_publishes(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from glasswatch.schemas import PredictionEvent
    from glasswatch.testing.traffic import TrafficGenerator

    doc = TrafficGenerator(start=datetime.now(UTC)).event(0)
    schema = PredictionEvent.model_json_schema()
    assert set(doc) <= set(schema["properties"])
    assert PredictionEvent.model_validate_json(orjson.dumps(doc)).prediction_id == doc["prediction_id"]
