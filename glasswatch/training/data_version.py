"""Versioned data files and their digests (DVC-compatible).

A pipeline writes each split once per data version, ``<root>/v<N>/<name>.csv``, and records the
sha256 of the file bytes. When a DVC pointer ``<file>.dvc`` sits next to the file, its ``md5`` is
read too, so a run's lineage can be matched against ``dvc status`` without running DVC.

Decisions
---------
* The digest is of the *bytes on disk* (what a reader gets back), not of the DataFrame; CSV is
  written with ``index=False`` and ``lineterminator="\\n"`` so the bytes are platform-stable.
* An existing file with different bytes is never overwritten: that would silently change a
  published version. :func:`write_version` raises :class:`~glasswatch.errors.ConfigError`.
* **One digest per data set**: the sha256 of the file bytes (:attr:`DataFile.sha256`, input tag
  ``glasswatch.sha256``). MLflow's own dataset digest (a hash of the DataFrame, at most 36
  characters) is set to its first :data:`MLFLOW_DIGEST_CHARS` characters
  (:func:`mlflow_digest`), so the MLflow UI, the tags and ``glasswatch check`` show one value,
  full or shortened. A DVC md5 is kept as the input tag ``glasswatch.dvc_md5`` only when a
  pointer file exists: it is DVC's identifier, for matching ``dvc status``, not a second digest.
* **Sources are portable**: :func:`source_uri` gives a file's path relative to the root of the
  git work tree holding it (the run's ``glasswatch.git.commit`` says which tree), or a
  ``file://`` URI for a file outside any work tree; never a bare absolute path of one machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from glasswatch.errors import ConfigError
from glasswatch.training.capture import file_sha256

__all__ = [
    "MLFLOW_DIGEST_CHARS",
    "DataFile",
    "describe_file",
    "dvc_md5",
    "mlflow_digest",
    "source_uri",
    "work_tree_root",
    "write_version",
]

MLFLOW_DIGEST_CHARS = 32
"""Length of the sha256 prefix given to MLflow as a dataset's digest (its column holds 36)."""


@dataclass(frozen=True)
class DataFile:
    """One versioned data file.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = write_version(pd.DataFrame({"a": [1, 2]}), d, "v1", "train")
    ...     (f.path.name, f.version, f.rows, f.sha256[:12], f.dvc_md5)
    ('train.csv', 'v1', 2, 'd4fa155a0784', None)
    """

    path: Path
    version: str
    name: str
    sha256: str
    rows: int
    dvc_md5: str | None = None


def mlflow_digest(sha256: str) -> str:
    """MLflow's dataset digest for a file of this sha256: its first :data:`MLFLOW_DIGEST_CHARS`
    characters (MLflow keys a run's inputs by name and digest, so equal bytes are one input).

    >>> mlflow_digest("ab" * 32) == "ab" * 16
    True
    """
    return sha256[:MLFLOW_DIGEST_CHARS]


def work_tree_root(path: str | Path) -> Path | None:
    """The root of the git work tree holding ``path`` (the nearest parent with a ``.git`` entry,
    a folder or a worktree's file), or None outside any. Reads the file system only.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "repo", ".git").mkdir(parents=True)
    ...     work_tree_root(Path(d, "repo", "data", "x.csv")) == Path(d, "repo").resolve()
    True
    """
    here = Path(path).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def source_uri(path: str | Path) -> str:
    """Where a data file is, as logged: its POSIX path relative to its git work tree's root, or a
    ``file://`` URI outside any work tree.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "repo", ".git").mkdir(parents=True)
    ...     inside = source_uri(Path(d, "repo", "data", "v1", "train.csv"))
    ...     outside = source_uri(Path(d, "elsewhere", "train.csv"))
    >>> inside, outside.startswith("file:///"), outside.endswith("/elsewhere/train.csv")
    ('data/v1/train.csv', True, True)
    """
    resolved = Path(path).resolve()
    root = work_tree_root(resolved)
    if root is None:
        return resolved.as_uri()
    return resolved.relative_to(root).as_posix()


def dvc_md5(path: str | Path) -> str | None:
    """The ``md5`` recorded in ``<path>.dvc`` (first output), or None without a pointer file.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "x.csv.dvc").write_text("outs:\\n- md5: 0123abc\\n  path: x.csv\\n")
    ...     dvc_md5(Path(d, "x.csv")), dvc_md5(Path(d, "y.csv"))
    ('0123abc', None)
    """
    pointer = Path(f"{path}.dvc")
    if not pointer.is_file():
        return None
    try:
        data = yaml.safe_load(pointer.read_text()) or {}
        outs = data.get("outs") or []
        md5 = outs[0].get("md5") if outs else None
    except (yaml.YAMLError, AttributeError, TypeError) as exc:
        raise ConfigError(f"{pointer}: not a DVC pointer file ({exc})") from exc
    return str(md5) if md5 else None


def describe_file(path: str | Path, version: str, name: str, rows: int) -> DataFile:
    """Digest an existing file."""
    p = Path(path)
    return DataFile(path=p, version=version, name=name, sha256=file_sha256(p), rows=rows,
                    dvc_md5=dvc_md5(p))


def write_version(df: pd.DataFrame, root: str | Path, version: str, name: str) -> DataFile:
    """Write ``df`` to ``<root>/<version>/<name>.csv`` (idempotent for identical bytes)."""
    target = Path(root) / version / f"{name}.csv"
    payload = df.to_csv(index=False, lineterminator="\n").encode()
    if target.exists() and target.read_bytes() != payload:
        raise ConfigError(f"{target} exists with different content; bump the data version")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.write_bytes(payload)
    return describe_file(target, version, name, len(df))
