"""CLI behaviour that needs no broker: help texts, schema export, settings from the environment."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from glasswatch.cli import COMMAND_MODULES, app, load_settings, read_environ
from glasswatch.commands.context import CommandContext
from glasswatch.errors import ConfigError

runner = CliRunner()

# What ``glasswatch --help`` lists, in its order: commands, then command groups.
COMMANDS = ["worker", "status", "simulate", "demo", "replay", "calibrate", "train", "check"]
GROUPS = {"dlq": ["show"], "schemas": ["export"], "silence": ["add", "list", "expire"],
          "routes": ["check"], "router": ["run"], "reference": ["register"], "drift": ["run", "rerun"],
          "alerts": ["list", "show", "ack"], "baseline": ["accept", "list"], "explain": ["run"]}


def test_help_lists_every_command_and_group() -> None:
    root = typer.main.get_group(app)
    assert list(root.commands) == COMMANDS + list(GROUPS)
    for group, subcommands in GROUPS.items():
        sub = root.commands[group]
        assert isinstance(sub, typer.core.TyperGroup)
        assert list(sub.commands) == subcommands
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS + list(GROUPS):
        assert f" {name} " in result.output


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_each_command_module_registers_the_group_it_is_named_after(module: str) -> None:
    fresh = typer.Typer()
    context = CommandContext(settings=load_settings, environ=read_environ)
    importlib.import_module(module).register(fresh, context)
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in fresh.registered_commands]
    names += [g.name or "" for g in fresh.registered_groups]
    assert names == [module.rsplit(".", 1)[1]]


@pytest.mark.parametrize(
    "command", COMMANDS + list(GROUPS) + [f"{g} {c}" for g, cs in GROUPS.items() for c in cs]
)
def test_every_command_explains_itself(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) > 3


def test_schemas_export_writes_one_json_schema_per_contract(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [
            f"{n}.v1.schema.json"
            for n in ["Alert", "AttributionWindow", "BaselineAccept", "BatchEnvelope", "Explanation",
                      "FeatureEvent", "LabelEvent", "Message", "PredictionEvent"]
        ]
        + ["DeadLetter.v2.schema.json"]  # the dead-letter contract is at version 2 (one letter per message)
    )
    pred = json.loads((tmp_path / "PredictionEvent.v1.schema.json").read_text())
    assert pred["additionalProperties"] is False
    # "type" is required: the worker refuses a message without it (unknown_type)
    assert set(pred["required"]) == {"type", "model", "model_version", "prediction_id", "event_time"}
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
