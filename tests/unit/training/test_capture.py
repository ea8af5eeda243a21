from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import glasswatch.training.repro
from glasswatch.errors import ConfigError
from glasswatch.training import capture as repro
from glasswatch.training.capture import (
    PriceTable,
    env_info,
    estimate_cost,
    file_sha256,
    fix_seeds,
    git_info,
    instance_type,
)
from glasswatch.training.data_version import dvc_md5, write_version


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@e.x", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "init", "-q", "-b", "trunk")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_fix_seeds_makes_random_and_numpy_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "0")  # undone after the test
    report = fix_seeds(123)
    first = (random.random(), np.random.rand(3).tolist())
    fix_seeds(123)
    assert (random.random(), np.random.rand(3).tolist()) == first
    assert report["random"] == report["numpy"] == "123"
    assert report["PYTHONHASHSEED"].startswith("123")
    assert os.environ["PYTHONHASHSEED"] == "123"  # for child processes


def test_git_info_clean_then_dirty(repo: Path) -> None:
    clean = git_info(repo)
    assert clean.branch == "trunk"
    assert clean.commit is not None
    assert len(clean.commit) == 40
    assert (clean.dirty, clean.diff, clean.error) == (False, "", None)

    (repo / "a.txt").write_text("two\n")
    (repo / "new.py").write_text("x = 1\n")
    dirty = git_info(repo)
    assert dirty.dirty
    assert dirty.commit == clean.commit
    assert "+two" in dirty.diff
    assert "# untracked: new.py" in dirty.diff


def test_git_info_untracked_file_in_the_package_counts_as_dirty(repo: Path) -> None:
    """Issue 13 changed this: only untracked files inside a package make the tree dirty."""
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    _git(repo, "add", "pkg/__init__.py")
    _git(repo, "commit", "-q", "-m", "pkg")
    (repo / "pkg" / "scratch.py").write_text("")
    info = git_info(repo)
    assert info.dirty
    assert info.untracked == ()
    assert "# untracked: pkg/scratch.py" in info.diff


def test_git_info_untracked_files_outside_the_package_are_listed_not_dirty(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    _git(repo, "add", "pkg/__init__.py")
    _git(repo, "commit", "-q", "-m", "pkg")
    (repo / "notes dir").mkdir()
    (repo / "notes dir" / "to do.txt").write_text("x")  # spaces: porcelain -z, no quoting
    (repo / "scratch.py").write_text("")
    info = git_info(repo / "pkg")  # from a subfolder: paths are still relative to the root
    assert not info.dirty
    assert info.untracked == ("notes dir/to do.txt", "scratch.py")
    assert info.untracked_text() == "notes dir/to do.txt, scratch.py"
    assert info.untracked_text(limit=12) == "notes dir/to do.txt (+1 more)"  # the first always shows
    # named packages replace the detected ones
    named = git_info(repo, packages=["notes dir"])
    assert named.dirty
    assert named.untracked == ("scratch.py",)


def test_git_info_a_staged_rename_is_a_change_and_not_untracked(repo: Path) -> None:
    _git(repo, "mv", "a.txt", "b.txt")
    info = git_info(repo)
    assert info.dirty
    assert info.untracked == ()


def test_package_dirs_finds_top_level_and_src_packages(tmp_path: Path) -> None:
    for init in ("glasswatch/__init__.py", "src/lib/__init__.py", ".hidden/__init__.py",
                 "deep/er/__init__.py"):
        (tmp_path / init).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / init).write_text("")
    assert repro.package_dirs(tmp_path) == ("glasswatch", "src/lib")
    assert "glasswatch" in repro.package_dirs(Path(__file__).resolve().parents[3])


def test_git_info_tolerates_no_repo_and_no_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = git_info(tmp_path / "missing")
    assert outside.commit is None
    assert outside.error
    assert "not a usable git repository" in outside.error
    monkeypatch.setattr(repro.shutil, "which", lambda _name: None)
    assert git_info(tmp_path).error == "git is not installed"


def test_env_info_versions_and_lock_digest(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_bytes(b"version = 1\n")
    info = env_info(packages=("numpy", "no-such-dist-xyz"), lock_file=lock)
    assert info.packages["numpy"] == np.__version__
    assert info.packages["no-such-dist-xyz"] == "not installed"
    assert info.uv_lock_sha256 == hashlib.sha256(b"version = 1\n").hexdigest()
    assert env_info(lock_file=tmp_path / "absent.lock").uv_lock_sha256 is None


def test_instance_type_override_and_derived_name() -> None:
    assert instance_type({"GLASSWATCH_INSTANCE_TYPE": " g5.xlarge "}) == "g5.xlarge"
    derived = instance_type({"GLASSWATCH_INSTANCE_TYPE": ""}, cpus=8, memory_bytes=31 * 2**30)
    assert derived == "local-8cpu-31gib"
    assert instance_type({}).startswith("local-")


def test_estimate_cost_table_yaml_and_errors(tmp_path: Path) -> None:
    assert estimate_cost(7200, "m5.xlarge") == pytest.approx(0.384)
    assert estimate_cost(3600, "local-4cpu-16gib") == pytest.approx(4 * 0.024)
    prices = tmp_path / "prices.yaml"
    prices.write_text("hourly: {big.box: 10.0}\nper_cpu_hour: 0.5\n")
    table = PriceTable.from_yaml(prices)
    assert estimate_cost(360, "big.box", table) == pytest.approx(1.0)
    assert estimate_cost(3600, "local-2cpu-8gib", table) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="no price"):
        estimate_cost(1, "z9.huge", table)
    with pytest.raises(ConfigError, match="negative"):
        estimate_cost(-1, "m5.large")
    prices.write_text("hourly: {x: not-a-number}\n")
    with pytest.raises(ConfigError, match=r"prices\.yaml"):
        PriceTable.from_yaml(prices)


def test_write_version_is_idempotent_and_refuses_changed_bytes(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1.5, 2.5], "y": [0, 1]})
    first = write_version(df, tmp_path, "v1", "train")
    again = write_version(df, tmp_path, "v1", "train")
    assert first == again
    assert first.sha256 == file_sha256(tmp_path / "v1" / "train.csv")
    assert first.rows == 2
    with pytest.raises(ConfigError, match="bump the data version"):
        write_version(df.assign(a=[9.0, 9.0]), tmp_path, "v1", "train")
    assert write_version(df.assign(a=[9.0, 9.0]), tmp_path, "v2", "train").sha256 != first.sha256


def test_dvc_pointer_md5_is_read(tmp_path: Path) -> None:
    data = tmp_path / "v1" / "train.csv"
    write_version(pd.DataFrame({"a": [1]}), tmp_path, "v1", "train")
    assert dvc_md5(data) is None
    Path(f"{data}.dvc").write_text(
        "outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  size: 4\n  path: train.csv\n")
    assert write_version(pd.DataFrame({"a": [1]}), tmp_path, "v1", "train").dvc_md5 == (
        "d41d8cd98f00b204e9800998ecf8427e")
    Path(f"{data}.dvc").write_text("- just a list\n")
    with pytest.raises(ConfigError, match="DVC pointer"):
        dvc_md5(data)


def test_public_facade_exports_what_it_declares() -> None:
    for name in glasswatch.training.repro.__all__:
        assert hasattr(glasswatch.training.repro, name), name
    assert sorted(glasswatch.training.repro.__all__) == glasswatch.training.repro.__all__


def test_fix_seeds_sets_torch_and_tensorflow_determinism_when_present(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, object]] = []
    cudnn = types.SimpleNamespace(deterministic=False, benchmark=True)
    torch = types.SimpleNamespace(
        manual_seed=lambda s: calls.append(("torch.manual_seed", s)),
        use_deterministic_algorithms=lambda on, warn_only: calls.append(("torch.deterministic", on)),
        backends=types.SimpleNamespace(cudnn=cudnn),
    )
    tf = types.SimpleNamespace(
        random=types.SimpleNamespace(set_seed=lambda s: calls.append(("tf.set_seed", s))),
        config=types.SimpleNamespace(experimental=types.SimpleNamespace(
            enable_op_determinism=lambda: calls.append(("tf.op_determinism", True)))),
    )
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    report = fix_seeds(9)
    assert calls == [("torch.manual_seed", 9), ("torch.deterministic", True), ("tf.set_seed", 9),
                     ("tf.op_determinism", True)]
    assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
    assert report["torch"].startswith("9 (deterministic")
    assert report["tensorflow"] == "9 (op determinism)"
