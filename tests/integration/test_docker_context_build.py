"""The wheel built from exactly what the Dockerfile copies holds the package, its templates and
every playbook (issue 13: ``docs/playbooks`` was force-included by the wheel but kept out of the
Docker build context, so the image build failed).

No Docker engine: ``tests/docker_context.py`` assembles the builder stage's ``/src`` from the
Dockerfile's COPY lines and ``.dockerignore`` with Docker's rules, then ``uv build`` runs there
(hatchling pinned by ``deploy/build-constraints.txt``, as ``just build`` does). The image runs
``uv sync --no-editable``, which builds the same wheel straight from that folder; the sdist route
(``uv build`` without ``--wheel``: sdist first, wheel from it) is checked too.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from docker_context import assemble_context

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "deploy" / "build-constraints.txt"


def _build(src: Path, out: Path, *args: str) -> list[str]:
    """``uv build`` of ``src`` into ``out``; the names in the one wheel it made."""
    done = subprocess.run(
        ["uv", "build", "--quiet", *args, "--build-constraint", str(CONSTRAINTS), "-o", str(out), str(src)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def _expected(src: Path) -> tuple[set[str], set[str], set[str]]:
    playbooks = {f"glasswatch/playbooks/{p.name}" for p in (ROOT / "docs/playbooks").glob("*.md")}
    templates = {f"glasswatch/web/templates/{p.name}" for p in (ROOT / "glasswatch/web/templates").iterdir()}
    modules = {p.relative_to(src).as_posix() for p in (src / "glasswatch").rglob("*.py")}
    return playbooks, templates, modules


@pytest.mark.parametrize("route", ["wheel", "sdist-then-wheel"])
def test_the_docker_context_builds_a_complete_wheel(tmp_path: Path, route: str) -> None:
    src = assemble_context(ROOT, tmp_path / "ctx", "builder")
    names = _build(src, tmp_path / "dist", *(["--wheel"] if route == "wheel" else []))
    playbooks, templates, modules = _expected(src)
    assert len(playbooks) > 5 and "glasswatch/playbooks/data_drift.md" in playbooks
    assert playbooks <= set(names), sorted(playbooks - set(names))
    assert {n for n in names if n.startswith("glasswatch/playbooks/")} == playbooks
    assert templates and templates <= set(names), sorted(templates - set(names))
    assert modules and modules <= set(names), sorted(modules - set(names))
    assert "glasswatch/cli.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "docs/"))]
