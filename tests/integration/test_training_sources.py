"""What a tracked run logs about its data and tree, read back from a real MLflow server (issue 13):
one digest per data set, sources relative to the repository or ``file://`` URIs, and untracked
files outside the package listed apart instead of making the run "dirty"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from glasswatch.training.capture import file_sha256
from glasswatch.training.checklist import check_run
from glasswatch.training.data_version import MLFLOW_DIGEST_CHARS, write_version
from glasswatch.training.repro import log_dataset, tracked_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240, method="thread")]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed repo with a package ``pkg/`` and an ignored ``data/`` folder."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / ".gitignore").write_text("data/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "fixture")
    return root


def _row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name))


def test_one_digest_per_data_set_and_portable_sources(tracking_uri: str, repo: Path, tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "target": [0, 1, 0]})
    inside = write_version(df, repo / "data", "v1", "train")
    outside = write_version(df.assign(a=[4, 5, 6]), tmp_path / "elsewhere", "v1", "validation")
    (repo / "notes.txt").write_text("scratch\n")  # untracked, outside the package
    with tracked_run("it-sources", repo=repo, seed=1) as run:
        log_dataset(df, inside.path, context="training", name="train", targets="target")
        log_dataset(df.assign(a=[4, 5, 6]), outside.path, context="validation", name="validation",
                    targets="target")
    got = MlflowClient().get_run(run.run_id)
    assert got.data.tags["glasswatch.git.dirty"] == "false"
    assert got.data.tags["glasswatch.git.untracked"] == "notes.txt"

    by_name = {i.dataset.name: i for i in got.inputs.dataset_inputs}
    assert set(by_name) == {"train", "validation"}
    expected = {"train": ("data/v1/train.csv", inside.path),
                "validation": (outside.path.resolve().as_uri(), outside.path)}
    for name, (source, path) in expected.items():
        item = by_name[name]
        tags = {t.key: t.value for t in item.tags}
        sha = file_sha256(path)
        assert json.loads(item.dataset.source) == {"uri": source}
        assert tags["glasswatch.path"] == source
        assert tags["glasswatch.sha256"] == sha
        assert item.dataset.digest == sha[:MLFLOW_DIGEST_CHARS]  # MLflow shows the same digest
        assert got.data.tags[f"glasswatch.dataset.{name}.sha256"] == sha
    # no absolute local path anywhere in what the inputs carry (file:// only outside the repo)
    assert str(repo) not in json.dumps([(i.dataset.source, [t.value for t in i.tags])
                                        for i in got.inputs.dataset_inputs])

    text = check_run(run.run_id, tracking_uri, repo).render()
    assert " ok " in _row(text, "git") and "clean" in _row(text, "git")
    assert "not in the package, not counted as dirty: notes.txt" in _row(text, "untracked")
    inputs = _row(text, "inputs")
    assert f"train:training sha256:{inside.sha256[:12]}" in inputs
    assert f"validation:validation sha256:{outside.sha256[:12]}" in inputs
    assert inputs.count("sha256:") == 2


def test_an_untracked_file_in_the_package_still_makes_the_run_dirty(tracking_uri: str, repo: Path) -> None:
    (repo / "pkg" / "new_module.py").write_text("x = 1\n")
    with tracked_run("it-sources-dirty", repo=repo, seed=1) as run:
        pass
    got = MlflowClient().get_run(run.run_id)
    assert got.data.tags["glasswatch.git.dirty"] == "true"
    assert "glasswatch.git.untracked" not in got.data.tags
    text = check_run(run.run_id, tracking_uri, repo).render()
    assert " GAP " in _row(text, "git")
