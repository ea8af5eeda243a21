"""deploy/local_kafka as a package: one exception tree, its public names, stdlib only, one loader,
and both ways of running it from a shell (no broker needed)."""

from __future__ import annotations

import ast
import doctest
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kafka_helpers import REPO_ROOT, load_local_kafka

from glasswatch.commands import demo
from glasswatch.errors import EnvironmentNotReady as GlasswatchEnvironmentNotReady

local_kafka = load_local_kafka()
PACKAGE = REPO_ROOT / "deploy" / "local_kafka"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "__main__"})


def test_every_error_has_one_base_and_the_builtin_callers_catch() -> None:
    errors = importlib.import_module("local_kafka.errors")
    assert set(errors.__all__) - {"INSTALL_HINT"} == {
        "LocalKafkaError", "EnvironmentNotReady", "KafkaStartError", "ProbeError",
    }  # fmt: skip
    for name in ("EnvironmentNotReady", "KafkaStartError", "ProbeError"):
        assert issubclass(getattr(local_kafka, name), local_kafka.LocalKafkaError)
    assert issubclass(local_kafka.EnvironmentNotReady, RuntimeError)
    assert issubclass(local_kafka.KafkaStartError, RuntimeError)
    assert issubclass(local_kafka.ProbeError, OSError)
    # no second class of the same name anywhere in the package
    defined = [
        node.name
        for path in PACKAGE.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
    ]
    assert len(defined) == len(set(defined))


@pytest.mark.parametrize("module", ["local_kafka", *(f"local_kafka.{m}" for m in MODULES)])
def test_all_names_exist_and_every_public_name_is_in_all(module: str) -> None:
    mod = importlib.import_module(module)
    assert all(hasattr(mod, name) for name in mod.__all__)
    if module == "local_kafka":
        return  # the package re-exports a selection; its submodules are reachable as attributes
    defined: set[str] = set()
    for node in ast.parse(Path(mod.__file__).read_text()).body:  # what the module itself defines
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
    public = {name for name in defined if not name.startswith("_")}
    assert public == set(mod.__all__)


def test_the_callers_names_are_exported() -> None:
    for name in ("LocalKafka", "probe", "free_port", "KafkaStartError", "EnvironmentNotReady", "MARKER"):
        assert name in local_kafka.__all__
    assert callable(local_kafka.probe)  # the function, though a submodule has the same name


@pytest.mark.parametrize("module", [*MODULES, "__init__", "__main__"])
def test_only_the_standard_library_is_imported(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots = {(node.module or "").split(".")[0]}
        else:
            continue
        assert roots <= set(sys.stdlib_module_names) | {"__future__", "local_kafka"}, roots


def test_demo_and_tests_share_one_loader_and_one_module() -> None:
    assert load_local_kafka is demo.load_local_kafka
    assert demo.load_local_kafka() is local_kafka
    assert sys.modules["local_kafka"] is local_kafka
    assert Path(local_kafka.__file__) == PACKAGE / "__init__.py"


def test_outside_a_source_checkout_the_loader_names_the_way_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(demo, "REPO_ROOT", tmp_path)  # as in the Docker image: no deploy/
    monkeypatch.delitem(sys.modules, "local_kafka")

    with pytest.raises(GlasswatchEnvironmentNotReady, match="GLASSWATCH_KAFKA_BOOTSTRAP"):
        demo.load_local_kafka()


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "KAFKA_PORT"}} | env
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env=environ, check=False, cwd=REPO_ROOT
    )


@pytest.mark.parametrize(
    "prefix",
    [[sys.executable, "deploy/local_kafka"], [sys.executable, "-m", "local_kafka"]],
    ids=["directory", "module"],
)
def test_the_cli_runs_as_a_directory_and_as_a_module(prefix: list[str], tmp_path: Path) -> None:
    env = {"PYTHONPATH": "deploy"} if "-m" in prefix else {}

    status = _run([*prefix, "status", "--dir", str(tmp_path / "run")], **env)
    assert (status.returncode, status.stdout.strip()) == (1, "not running")

    down = _run([*prefix, "down", "--dir", str(tmp_path / "run")], **env)
    assert down.returncode == 0
    assert "[local-kafka] not running" in down.stderr

    usage = _run([*prefix, "--help"], **env)
    assert usage.returncode == 0
    assert "{up,down,status,fetch}" in usage.stdout


def test_the_justfile_runs_the_package_without_the_project_venv() -> None:
    justfile = (REPO_ROOT / "justfile").read_text()

    assert 'kafka := "uv run --no-project python deploy/local_kafka"' in justfile
    assert "local_kafka.py" not in justfile


@pytest.mark.parametrize("module", [f"local_kafka.{m}" for m in MODULES])
def test_the_docstring_examples_run(module: str) -> None:
    # deploy/ is outside pytest's --doctest-modules paths (tests, glasswatch): run them here
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
