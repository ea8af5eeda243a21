"""``glasswatch --help`` stays fast: it imports no command module and nothing heavy (issue 13).

The root help is drawn from :data:`glasswatch.cli.COMMANDS`; a command module is imported when its
command runs or its own ``--help`` is asked for. These tests run the CLI in a fresh interpreter
(this test process has imported everything already) and look at ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from glasswatch import cli

HEAVY = ("river", "mlflow", "evidently", "faust", "aiokafka", "pandas", "numpy", "sklearn", "shap", "scipy")
"""Never imported for ``glasswatch --help``, nor for the ``--help`` of any group."""

LIGHT_ROOT_ONLY = ("pydantic", "pydantic_settings", "glasswatch.settings", "glasswatch.schemas")
"""Not imported for ``glasswatch --help`` either (a command's own help reads its settings type)."""

_PROBE = """
import contextlib, io, json, sys
sys.argv = ["glasswatch", *json.loads(sys.argv[1])]
from glasswatch.cli import main
out, code = io.StringIO(), 0
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
print(json.dumps({"code": code, "modules": sorted(sys.modules), "help": out.getvalue()}))
"""


def _probe(*args: str) -> dict[str, object]:
    """Run ``glasswatch <args>`` in a fresh interpreter; its exit code, help text and modules."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args))],
        capture_output=True, text=True, timeout=120, check=False, env={"COLUMNS": "200", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def _imported(modules: object, prefixes: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return sorted({p for p in prefixes for m in modules if m == p or m.startswith(p + ".")})


def _present() -> list[cli.CommandEntry]:
    return [e for e in cli.COMMANDS if e.module in cli.COMMAND_MODULES]


def test_root_help_lists_every_command_and_imports_nothing_heavy() -> None:
    result = _probe("--help")
    assert result["code"] == 0
    assert _imported(result["modules"], HEAVY + LIGHT_ROOT_ONLY) == []
    commands = [m for m in result["modules"] if m.startswith("glasswatch.commands.")]  # type: ignore[attr-defined]
    assert commands == ["glasswatch.commands.context"]  # no command module: the table is enough
    text = str(result["help"])
    for entry in _present():
        assert re.search(rf"│ {entry.name} +{re.escape(entry.help[:40])}", text), entry.name
    assert "--log-format" in text


def test_every_group_help_stays_light_and_imports_only_its_own_module() -> None:
    """One interpreter shows every group's help in turn: heavy libraries stay out throughout."""
    code = (
        "import sys, json\n"
        "from typer.testing import CliRunner\n"
        "from glasswatch.cli import COMMANDS, COMMAND_MODULES, app\n"
        "seen = {}\n"
        "for e in COMMANDS:\n"
        "    if e.module not in COMMAND_MODULES: continue\n"
        "    before = {m for m in sys.modules if m.startswith('glasswatch.commands.')}\n"
        "    r = CliRunner().invoke(app, [e.name, '--help'])\n"
        "    new = sorted({m for m in sys.modules if m.startswith('glasswatch.commands.')} - before)\n"
        "    seen[e.name] = [r.exit_code, new, r.output]\n"
        "print(json.dumps({'seen': seen, 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert _imported(result["modules"], HEAVY) == []
    for entry in _present():
        exit_code, new, output = result["seen"][entry.name]
        assert exit_code == 0, output
        assert entry.name in output
        assert set(new) <= {entry.module}, (entry.name, new)  # only its own module (or none: shared)


@pytest.mark.parametrize("entry", cli.COMMANDS, ids=lambda e: e.name)
def test_each_table_line_matches_its_command(entry: cli.CommandEntry) -> None:
    if entry.module not in cli.COMMAND_MODULES:
        pytest.skip(f"{entry.module} is not written yet")
    command = cli.load_command(entry)
    assert command.name == entry.name
    own = " ".join((command.short_help or command.help or "").split("\n\n")[0].split())
    listed = " ".join(entry.help.split())
    # the listed line is the command's own first sentence, or its start up to a colon
    head = listed.split(": ", 1)[0].rstrip(".") if ": " in listed else listed.rstrip(".")
    assert own.startswith(head), (
        f"the help of {entry.name!r} in glasswatch.cli.COMMANDS does not match its command's own: {own!r}"
    )
    assert CliRunner().invoke(cli.app, [entry.name, "--help"]).exit_code == 0


def test_every_command_module_is_in_the_table() -> None:
    folder = Path(cli.__file__).parent / "commands"
    modules = {f"glasswatch.commands.{p.stem}" for p in folder.glob("*.py")} - {
        "glasswatch.commands.__init__", "glasswatch.commands.context",
    }
    assert modules <= {e.module for e in cli.COMMANDS}, "a command module glasswatch --help does not list"
    names = [e.name for e in cli.COMMANDS]
    assert len(names) == len(set(names))


def test_the_root_group_is_lazy_and_still_a_typer_group() -> None:
    root = typer.main.get_group(cli.app)
    assert isinstance(root, cli.LazyGroup)
    assert list(root.commands) == [e.name for e in _present()]
    assert "alerts" in [e.name for e in cli.COMMANDS]
    loaded = root.commands["dlq"]
    assert isinstance(loaded, typer.core.TyperGroup)
    assert root.commands["dlq"] is loaded  # loaded once per root group
    unknown = CliRunner().invoke(cli.app, ["no-such-command"])
    assert unknown.exit_code == 2
    assert "No such command" in unknown.output


def test_a_bad_log_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli.app, ["--log-format", "xml", "schemas", "--help"])
    assert result.exit_code == 2
    assert "xml" in result.output
