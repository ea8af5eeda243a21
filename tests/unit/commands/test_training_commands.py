from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from glasswatch import cli
from glasswatch.commands.training import register
from glasswatch.settings import Settings


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app, Settings)
    return app


def test_training_commands_are_registered_in_the_cli() -> None:
    assert "glasswatch.commands.training" in cli.COMMAND_MODULES
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in cli.app.registered_commands}
    assert {"train", "check"} <= names


def test_help_texts_explain_the_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps help at the terminal width
    runner = CliRunner()
    train = runner.invoke(_app(), ["train", "--help"])
    assert train.exit_code == 0
    for words in ("breast-cancer", "no download", "champion", "--seed", "--model-name",
                  "--tracking-uri", "--data-dir", "--no-desktop", "Exit code 2"):
        assert words in train.output, words
    check = runner.invoke(_app(), ["check", "--help"])
    assert check.exit_code == 0
    for words in ("RUN_ID", "seeds", "digests", "system metrics", "SHAP", "monitors/<model>.yaml",
                  "exits 1"):
        assert words.lower() in check.output.lower(), words
