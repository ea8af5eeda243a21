"""One digest per data set and portable sources (issue 13): what the training side logs."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from glasswatch.training import tags as tag
from glasswatch.training.capture import file_sha256
from glasswatch.training.data_version import (
    MLFLOW_DIGEST_CHARS,
    mlflow_digest,
    source_uri,
    work_tree_root,
    write_version,
)
from glasswatch.training.datasets import RunArtifactSource, dataset_input
from glasswatch.training.tracking import pandas_dataset

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    return tmp_path / "repo"


def test_a_file_in_a_work_tree_is_logged_relative_to_its_root(
    work_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = write_version(pd.DataFrame({"a": [1]}), work_tree / "data", "v1", "train").path
    assert source_uri(f) == "data/v1/train.csv"
    monkeypatch.chdir(work_tree / "data")  # a relative path is read against the working folder
    assert source_uri(Path("v1/train.csv")) == "data/v1/train.csv"
    assert work_tree_root(f) == work_tree.resolve()


def test_a_worktree_or_submodule_git_file_marks_a_root_too(tmp_path: Path) -> None:
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text("gitdir: /elsewhere\n")
    assert source_uri(tmp_path / "wt" / "d.csv") == "d.csv"


def test_a_file_outside_any_work_tree_is_a_file_uri(tmp_path: Path) -> None:
    uri = source_uri(tmp_path / "loose" / "x.csv")
    assert uri == (tmp_path / "loose" / "x.csv").resolve().as_uri()
    assert uri.startswith("file:///")


def test_this_repository_logs_its_data_dir_relative() -> None:
    assert source_uri(REPO / ".glasswatch" / "data" / "v1" / "train.csv") == ".glasswatch/data/v1/train.csv"


def test_the_mlflow_dataset_has_the_file_digest_and_a_relative_source(work_tree: Path) -> None:
    df = pd.DataFrame({"a": [1, 2], "target": [0, 1]})
    f = write_version(df, work_tree / "data", "v1", "validation")
    ds = pandas_dataset(df, f.path, "validation", "target")
    assert MLFLOW_DIGEST_CHARS <= 36  # MLflow's digest column
    assert ds.digest == f.sha256[:MLFLOW_DIGEST_CHARS] == mlflow_digest(file_sha256(f.path))
    assert ds.source.to_dict() == {"uri": "data/v1/validation.csv"}
    # the same object given the digest up front (what log_dataset does) is the same dataset
    again = pandas_dataset(df, f.path, "validation", "target", sha256=f.sha256)
    assert (again.name, again.digest) == (ds.name, ds.digest)


def test_a_reference_input_carries_the_prefix_of_its_sha256_as_mlflow_digest() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0]})
    sha = "e85b715f" * 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tagged = dataset_input(df, RunArtifactSource("runs:/r/reference/x.csv", sha256=sha), "reference",
                               "reference", None, {tag.INPUT_SHA256: sha})
        untagged = dataset_input(df, RunArtifactSource("runs:/r/reference/x.csv"), "reference", "reference")
    assert tagged.dataset.digest == sha[:MLFLOW_DIGEST_CHARS]
    assert untagged.dataset.digest != tagged.dataset.digest  # MLflow's own hash of the DataFrame
