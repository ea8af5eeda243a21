"""The Dockerfile, .dockerignore and pyproject.toml agree: everything the wheel needs reaches the
builder stage, nothing else does, and the image makes the worker's web port reachable.

No Docker engine is needed: ``tests/docker_context.py`` reads both files with Docker's rules; the
wheel itself is built from the assembled context in ``tests/integration/test_docker_context_build.py``.
"""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest
from docker_context import (
    MissingSource,
    assemble_context,
    context_copies,
    context_files,
    is_ignored,
    read_dockerignore,
)

from glasswatch.kafka.app import create_app
from glasswatch.settings import Settings, WorkerSettings

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
BUILDER = "builder"


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _wheel_inputs() -> list[str]:
    """Context paths the wheel build reads: readme, packages and force-included sources."""
    data = _pyproject()
    wheel = data["tool"]["hatch"]["build"]["targets"]["wheel"]  # type: ignore[index]
    return ["pyproject.toml", data["project"]["readme"], *wheel["packages"],  # type: ignore[index]
            *wheel.get("force-include", {})]


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["docs", "!docs/playbooks"], "docs/routes.example.yaml", True),
        (["docs", "!docs/playbooks"], "docs/playbooks/data_drift.md", False),
        (["!docs/playbooks", "docs"], "docs/playbooks/data_drift.md", True),  # the last match wins
        (["**/__pycache__"], "glasswatch/web/__pycache__/x.cpython-311.pyc", True),
        (["**/__pycache__"], "__pycache__/x.pyc", True),  # ** is zero or more directories
        (["**/*.py[cod]"], "glasswatch/a/b.pyc", True),
        (["**/*.py[cod]"], "glasswatch/a/b.py", False),
        (["*.env"], "worker.env", True),
        (["*.env"], "deploy/worker.env", False),  # * never crosses a /, patterns are rooted
        (["docker-compose*.yml"], "docker-compose.override.yml", True),
        (["tests"], "tests/unit/x.py", True),  # a matching parent takes its children
        (["build"], "build/x", True),
        (["build"], "glasswatch/build/x", False),
        (["glass?atch"], "glasswatch/x.py", True),
    ],
)
def test_dockerignore_matching_follows_docker(patterns: list[str], path: str, ignored: bool) -> None:
    assert is_ignored(path, patterns) is ignored


def test_dockerignore_reader_cleans_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    f = tmp_path / ".dockerignore"
    f.write_text("# comment\n\n/dist/\n ! docs/playbooks \n./a//b\n")
    assert read_dockerignore(f) == ["dist", "!docs/playbooks", "a/b"]
    f.write_text("a\\*b\n")
    with pytest.raises(ValueError, match="escapes"):
        read_dockerignore(f)


def test_the_builder_copies_everything_the_wheel_reads() -> None:
    copies = [c for c in context_copies(DOCKERFILE) if c.stage == BUILDER]
    sources = {c.source for c in copies}
    patterns = read_dockerignore(ROOT / ".dockerignore")
    for needed in _wheel_inputs():
        assert any(needed == s or needed.startswith(f"{s}/") for s in sources), (
            f"{needed} is read by the wheel build but the Dockerfile does not COPY it")
        assert context_files(ROOT, needed, patterns), f"{needed} is left out by .dockerignore"
    # each source lands where the build looks for it: at the same path under WORKDIR /src
    assert {(c.source, c.target) for c in copies if c.instruction == "COPY"} == {
        ("pyproject.toml", "/src/pyproject.toml"), ("uv.lock", "/src/uv.lock"),
        ("README.md", "/src/README.md"), ("glasswatch", "/src/glasswatch"),
        ("docs/playbooks", "/src/docs/playbooks"),
    }


def test_the_parser_sees_every_copy_line_of_the_dockerfile() -> None:
    parsed = {(c.stage, c.source) for c in context_copies(DOCKERFILE)}
    raw = [line.split(None, 1)[1] for line in DOCKERFILE.read_text().splitlines()
           if line.startswith(("COPY ", "ADD ")) and "--from=" not in line]
    assert raw, "no COPY line found: the Dockerfile changed shape"
    for args in raw:
        *sources, _dest = [t for t in shlex.split(args) if not t.startswith("--")]
        for source in sources:
            assert (BUILDER, source) in parsed, args


def test_the_context_holds_every_playbook_and_no_other_docs() -> None:
    patterns = read_dockerignore(ROOT / ".dockerignore")
    playbooks = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs/playbooks").glob("*.md"))
    assert len(playbooks) > 5
    assert context_files(ROOT, "docs/playbooks", patterns) == playbooks
    assert not context_files(ROOT, "docs", patterns)[len(playbooks):]  # docs/*.yaml stay out
    for path in (".git/HEAD", "tests/conftest.py", ".venv/bin/python", "docs/routes.example.yaml",
                 "glasswatch/__pycache__/cli.cpython-311.pyc", "worker.env", "deploy/build-constraints.txt"):
        assert is_ignored(path, patterns), path
    for path in ("glasswatch/web/templates/base.html", "glasswatch/cli.py", "uv.lock", "README.md"):
        assert not is_ignored(path, patterns), path


def test_the_context_assembled_like_docker_has_the_playbooks(tmp_path: Path) -> None:
    src = assemble_context(ROOT, tmp_path / "ctx", BUILDER)
    assert src == tmp_path / "ctx" / "src"
    playbook = "docs/playbooks/data_drift.md"
    assert (src / playbook).read_bytes() == (ROOT / playbook).read_bytes()
    assert (src / "glasswatch/web/templates/base.html").is_file()
    assert not list(src.rglob("__pycache__"))
    assert not (src / "tests").exists()


def test_excluding_docs_without_the_reinclude_fails_the_copy(tmp_path: Path) -> None:
    """The bug of issue 13: ``docs`` ignored, so ``COPY docs/playbooks`` finds nothing."""
    patterns = [p for p in read_dockerignore(ROOT / ".dockerignore") if p != "!docs/playbooks"]
    with pytest.raises(MissingSource, match="docs/playbooks"):
        assemble_context(ROOT, tmp_path / "ctx", BUILDER, patterns=patterns)


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("ENV "):
            env |= dict(t.split("=", 1) for t in shlex.split(line[4:]) if "=" in t)
    return env


def test_the_image_binds_every_interface_but_links_stay_local(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _image_env()
    assert env["GLASSWATCH_WORKER__WEB_HOST"] == "0.0.0.0"
    for key, value in env.items():
        if key.startswith("GLASSWATCH_"):
            monkeypatch.setenv(key, value)
    worker = Settings().worker
    assert worker.web_host == "0.0.0.0"
    assert worker.base_url == "http://127.0.0.1:6066"  # never http://0.0.0.0 in alert links
    monkeypatch.setenv("GLASSWATCH_WORKER__PUBLIC_URL", "https://gw.example.com/")
    assert Settings().worker.base_url == "https://gw.example.com"


def test_the_faust_web_server_binds_the_configured_host(tmp_path: Path) -> None:
    default = create_app(Settings(worker=WorkerSettings(data_dir=tmp_path / "a")))
    assert WorkerSettings().web_host == "127.0.0.1"
    assert default.app.conf.web_bind == "127.0.0.1"
    anywhere = create_app(Settings(worker=WorkerSettings(data_dir=tmp_path / "b", web_host="0.0.0.0")))
    assert anywhere.app.conf.web_bind == "0.0.0.0"
    assert anywhere.app.conf.web_port == 6066
    assert anywhere.settings.worker.base_url == "http://127.0.0.1:6066"
