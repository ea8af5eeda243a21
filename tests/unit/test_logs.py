"""One log format for commands and the worker; ``--log-format json`` gives one object per line."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glasswatch import logs
from glasswatch.cli import app


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, fmt = list(root.handlers), root.level, logs.current_format()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.configure_logging(fmt=fmt)
    root.handlers[:] = handlers


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if type(h).__name__ == "_StderrHandler"]


def test_json_lines_carry_time_level_logger_message_and_escape_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure_logging(logging.INFO, "json")
    logging.getLogger("glasswatch.test").warning("bad category %s", "\x1b[2Jcat\u202e")
    logging.getLogger("glasswatch.test").debug("not shown at INFO")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "\x1b" not in lines[0] and "\u202e" not in lines[0]
    doc = json.loads(lines[0])
    assert set(doc) == {"time", "level", "logger", "message"}
    assert doc["level"] == "WARNING" and doc["logger"] == "glasswatch.test"
    assert doc["message"] == "bad category \x1b[2Jcat\u202e"  # escaped on the wire, intact when parsed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["time"])


def test_an_exception_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure_logging(logging.INFO, "json")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("glasswatch.test").exception("failed")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["message"] == "failed" and "ValueError: boom" in doc["exc"]


def test_configuring_again_keeps_the_format_and_never_doubles_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure_logging(fmt="json")
    logs.configure_logging(logging.INFO)  # a command asking for INFO keeps --log-format
    assert len(_ours()) == 1
    assert logs.current_format() is logs.LogFormat.JSON
    logging.getLogger("glasswatch.test").info("once")
    assert [json.loads(x)["message"] for x in capsys.readouterr().err.splitlines()] == ["once"]
    logs.configure_logging(fmt="text")
    logging.getLogger("glasswatch.test").info("as text")
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO glasswatch\.test: as text", line)


def test_apply_format_reformats_handlers_installed_by_others() -> None:
    logger = logging.getLogger("gwtest-apply")
    logger.handlers = [logging.StreamHandler(), logging.StreamHandler()]
    try:
        logs.apply_format(logger, "json")
        assert all(isinstance(h.formatter, logs.JsonFormatter) for h in logger.handlers)
        logs.apply_format(logger, "text")
        assert all(h.formatter is not None and h.formatter._fmt == logs.TEXT_FORMAT for h in logger.handlers)
    finally:
        logger.handlers = []


def test_the_cli_option_picks_the_format_for_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(app, ["--log-format", "JSON", "schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert logs.current_format() is logs.LogFormat.JSON
    logging.getLogger("glasswatch.test").warning("after the command")  # the handler outlives the runner
    assert json.loads(capsys.readouterr().err.splitlines()[-1])["message"] == "after the command"
    assert CliRunner().invoke(app, ["schemas", "export", str(tmp_path)]).exit_code == 0
    assert logs.current_format() is logs.LogFormat.TEXT  # the default, every run
