from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import typer
from typer.testing import CliRunner

from glasswatch import cli
from glasswatch.commands import check, train
from glasswatch.commands.context import CommandContext
from glasswatch.commands.train import AlertsMode, gate_sink, local_sink
from glasswatch.kafka.alert_publisher import AlertPublisher
from glasswatch.schemas.alert import Alert, AlertKind, Severity
from glasswatch.settings import KafkaSettings, Settings

ALERT = Alert.build(kind=AlertKind.QUALITY_GATE, severity=Severity.WARNING, model="churn",
                    signal="gate:roc_auc", summary="candidate for churn refused by the quality gate",
                    starts_at=datetime(2026, 1, 1, tzinfo=UTC))


CONTEXT = CommandContext(settings=Settings, environ=dict)


def _app() -> typer.Typer:
    app = typer.Typer()
    train.register(app, CONTEXT)
    check.register(app, CONTEXT)
    return app


def test_training_commands_are_registered_in_the_cli() -> None:
    assert {"glasswatch.commands.train", "glasswatch.commands.check"} <= set(cli.COMMAND_MODULES)
    assert "glasswatch.commands.training" not in cli.COMMAND_MODULES
    names = set(typer.main.get_group(cli.app).commands)  # the root lists the lazily loaded commands
    assert {"train", "check"} <= names


def test_each_module_registers_only_its_own_command() -> None:
    for module, name in ((train, "train"), (check, "check")):
        app = typer.Typer()
        module.register(app, CONTEXT)
        assert [c.callback.__name__ for c in app.registered_commands if c.callback] == [name]


def test_help_texts_explain_the_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps help at the terminal width
    runner = CliRunner()
    train_help = runner.invoke(_app(), ["train", "--help"])
    assert train_help.exit_code == 0
    for words in ("breast-cancer", "no download", "champion", "--seed", "--model-name",
                  "--tracking-uri", "--data-dir", "--no-desktop", "Exit code 2",
                  "--alerts", "kafka|local|auto", "quality_gate", "glasswatch router run",
                  "log and desktop receivers", "default: auto"):
        assert words in train_help.output, words
    check_help = runner.invoke(_app(), ["check", "--help"])
    assert check_help.exit_code == 0
    for words in ("RUN_ID", "seeds", "digests", "system metrics", "SHAP", "monitors/<model>.yaml",
                  "exits 1", "glasswatch.monitor_spec"):
        assert words.lower() in check_help.output.lower(), words


def test_alerts_option_rejects_an_unknown_mode() -> None:
    out = CliRunner().invoke(_app(), ["train", "--alerts", "carrier-pigeon"])
    assert out.exit_code == 2
    assert "carrier-pigeon" in out.output


def test_kafka_mode_publishes_to_the_settings_alerts_topic() -> None:
    s = Settings()
    sink = gate_sink(AlertsMode.KAFKA, s, desktop=False, environ={})
    assert isinstance(sink, AlertPublisher)
    assert (sink.bootstrap, sink.topic, sink.base_url) == (
        s.kafka.bootstrap, s.topics.alerts, s.worker.base_url)


def test_local_mode_pops_a_desktop_notification_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from plyer import notification

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(notification, "notify", lambda **kw: seen.append(kw))
    sink = gate_sink(AlertsMode.LOCAL, Settings(), desktop=True, environ={"DISPLAY": ":0"})
    with caplog.at_level(logging.INFO, logger="glasswatch"):
        sink(ALERT)
    assert len(seen) == 1
    assert seen[0]["app_name"] == "glasswatch"
    assert "quality_gate" in str(seen[0]["title"])
    lines = [r.getMessage() for r in caplog.records if r.name == "glasswatch.alerts"]
    assert len(lines) == 1 and "kind=quality_gate" in lines[0]


def test_local_mode_falls_back_quietly_without_a_desktop_backend(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from plyer import notification

    def no_backend(**_: object) -> None:
        raise NotImplementedError("No usable implementation found!")

    monkeypatch.setattr(notification, "notify", no_backend)
    with caplog.at_level(logging.INFO, logger="glasswatch"):
        local_sink(desktop=True, environ={"DISPLAY": ":0"})(ALERT)
        local_sink(desktop=True, environ={})(ALERT)  # headless: no plyer call at all
    assert "desktop (unavailable: NotImplementedError)" in caplog.text
    assert "desktop (headless)" in caplog.text
    assert sum(r.name == "glasswatch.alerts" for r in caplog.records) == 2


def test_no_desktop_leaves_the_desktop_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from plyer import notification

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(notification, "notify", lambda **kw: seen.append(kw))
    with caplog.at_level(logging.INFO, logger="glasswatch"):
        local_sink(desktop=False, environ={"DISPLAY": ":0"})(ALERT)
    assert seen == []
    assert "desktop" not in caplog.text
    assert sum(r.name == "glasswatch.alerts" for r in caplog.records) == 1


def test_auto_mode_without_a_broker_delivers_locally(caplog: pytest.LogCaptureFixture) -> None:
    nowhere = Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1"))  # port 1: connection refused
    sink = gate_sink(AlertsMode.AUTO, nowhere, desktop=False, environ={}, timeout_s=2.0)
    with caplog.at_level(logging.INFO, logger="glasswatch"):
        sink(ALERT)
    assert "alerts topic glasswatch-alerts at 127.0.0.1:1 failed" in caplog.text
    lines = [r.getMessage() for r in caplog.records if r.name == "glasswatch.alerts"]
    assert len(lines) == 1 and ALERT.fingerprint in lines[0]
