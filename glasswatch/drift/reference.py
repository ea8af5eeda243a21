"""Reference data sets: the seam to the model registry, and a bounded on-disk cache.

:class:`ReferenceStore` is the Protocol the drift agent talks to: ``resolve(model, version)``
gives the version's :class:`Reference` (``None`` when the version has none registered) and
``log_drift_run`` records one drift run with its lineage and reports, returning its
:class:`RunInfo`; ``read_drift_run`` reads one back (window offsets, spec, results) and
``drift_history`` reads a model's runs back newest first (a restarted agent rebuilds its alert
state from them). The MLflow
implementation is :class:`glasswatch.training.registry.MlflowReferenceStore`;
:class:`InMemoryReferenceStore` is the fake for tests. Failures to reach the registry raise
:class:`~glasswatch.errors.TrackingError`.

:class:`ReferenceCache` keeps downloaded reference files under one directory, named by their
sha256 (so a file is verified once and never downloaded twice), least recently used first out
when the total exceeds ``max_bytes`` (the file just added always stays).

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> cache = ReferenceCache(d / "cache", max_bytes=30)
>>> for i in range(3):
...     _ = (d / f"r{i}.csv").write_text(f"x\\n{i}{i}{i}{i}{i}{i}{i}{i}\\n")
>>> digests = [cache.put(d / f"r{i}.csv").stem for i in range(3)]
>>> [cache.get(h) is not None for h in digests], cache.total_bytes <= 30
([False, True, True], True)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from glasswatch.drift.job import DriftResult
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow

__all__ = [
    "InMemoryReferenceStore",
    "LoggedDriftRun",
    "Reference",
    "ReferenceCache",
    "ReferenceStore",
    "RunInfo",
    "file_digest",
    "read_frame",
]


@dataclass(frozen=True)
class Reference:
    """The reference data of one model version and where it came from."""

    model: str
    version: str
    data: pd.DataFrame = field(repr=False)
    uri: str
    sha256: str
    features: tuple[str, ...]
    target: str | None = None
    prediction: str | None = None
    """Column of the reference's predictions (``prediction``), when it has them."""
    run_id: str | None = None
    """The MLflow run holding the reference (the version's training run)."""
    importance: Mapping[str, float] | None = None
    """The version's global importance per feature (mean |SHAP|, else impurity importance, as
    ``glasswatch train`` logged it), largest first; ``None`` when not logged. Drift alerts rank
    the drifted features by it (:mod:`glasswatch.drift.alerts`)."""


@dataclass(frozen=True)
class RunInfo:
    """One logged drift run: its id and links (``None`` where the store has no web UI)."""

    run_id: str
    run_url: str | None = None
    report_url: str | None = None


@dataclass(frozen=True)
class LoggedDriftRun:
    """A drift run read back: exactly what to rerun and what it found."""

    run_id: str
    window: DriftWindow
    spec: DriftSpec
    reference_sha256: str
    target: str | None
    result: dict[str, Any]
    """:meth:`DriftResult.comparable` of the logged run."""
    run_url: str | None = None
    report_url: str | None = None


class ReferenceStore(Protocol):
    """Where references live and drift runs are recorded (MLflow in production)."""

    def resolve(self, model: str, version: str) -> Reference | None:
        """The version's reference, ``None`` if it has none; raises ``TrackingError``."""
        ...

    def log_drift_run(
        self, window: DriftWindow, reference: Reference, current: pd.DataFrame, result: DriftResult,
        spec: DriftSpec,
    ) -> RunInfo:
        """Record one drift run (idempotent per window); raises ``TrackingError``."""
        ...

    def read_drift_run(self, run_id: str) -> LoggedDriftRun:
        """Read a logged drift run back; raises ``TrackingError``."""
        ...

    def drift_history(self, model: str, before: datetime) -> Iterator[LoggedDriftRun]:
        """``model``'s logged drift runs whose window ended before ``before``, newest first, read
        lazily (the caller stops when it has enough); raises ``TrackingError``."""
        ...


def file_digest(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_frame(path: str | Path) -> pd.DataFrame:
    """A reference file as a DataFrame: ``.parquet`` or CSV."""
    p = Path(path)
    return pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)


class ReferenceCache:
    """Reference files by sha256 under ``directory``, at most ``max_bytes`` in total (LRU)."""

    def __init__(self, directory: str | Path, max_bytes: int = 512 << 20) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.directory = Path(directory)
        self.max_bytes = max_bytes

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return [p for p in self.directory.iterdir() if p.is_file() and not p.name.startswith(".")]

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._files())

    def get(self, sha256: str) -> Path | None:
        """The cached file of ``sha256`` (marked as just used), or ``None``."""
        for p in self._files():
            if p.stem == sha256:
                os.utime(p)
                return p
        return None

    def put(self, source: str | Path, sha256: str | None = None) -> Path:
        """Copy ``source`` in (its digest must equal ``sha256`` when given), then evict the least
        recently used files until the total fits. Raises ``ValueError`` on a digest mismatch."""
        src = Path(source)
        digest = file_digest(src)
        if sha256 is not None and digest != sha256:
            raise ValueError(f"{src.name}: sha256 {digest[:12]}… is not the registered {sha256[:12]}…")
        self.directory.mkdir(parents=True, exist_ok=True)
        dest = self.directory / f"{digest}{src.suffix}"
        if not dest.exists():
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".part-")
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        os.utime(dest)
        self._evict(keep=dest)
        return dest

    def _evict(self, keep: Path) -> None:
        files = sorted(self._files(), key=lambda p: p.stat().st_mtime_ns)
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total <= self.max_bytes:
                break
            if p != keep:
                total -= p.stat().st_size
                p.unlink(missing_ok=True)


class InMemoryReferenceStore:
    """:class:`ReferenceStore` fake: references by ``(model, version)``, runs kept in a list."""

    def __init__(self, references: dict[tuple[str, str], Reference] | None = None) -> None:
        self.references = dict(references or {})
        self.runs: list[tuple[DriftWindow, Reference, pd.DataFrame, DriftResult, DriftSpec]] = []
        self.resolved: list[tuple[str, str]] = []

    def resolve(self, model: str, version: str) -> Reference | None:
        self.resolved.append((model, version))
        return self.references.get((model, version))

    def log_drift_run(
        self, window: DriftWindow, reference: Reference, current: pd.DataFrame, result: DriftResult,
        spec: DriftSpec,
    ) -> RunInfo:
        for i, (w, *_rest) in enumerate(self.runs):
            if w.id == window.id:  # idempotent: the same run and links
                return RunInfo(run_id=f"run-{i}", run_url=f"memory://runs/{i}")
        self.runs.append((window, reference, current, result, spec))
        return RunInfo(run_id=f"run-{len(self.runs) - 1}", run_url=f"memory://runs/{len(self.runs) - 1}")

    def read_drift_run(self, run_id: str) -> LoggedDriftRun:
        i = int(run_id.removeprefix("run-"))
        window, ref, _, result, spec = self.runs[i]
        return LoggedDriftRun(run_id=run_id, window=window, spec=spec, reference_sha256=ref.sha256,
                              target=ref.target, result=result.comparable(), run_url=f"memory://runs/{i}")

    def drift_history(self, model: str, before: datetime) -> Iterator[LoggedDriftRun]:
        for i in range(len(self.runs) - 1, -1, -1):
            w = self.runs[i][0]
            if w.model == model and w.end < before:
                yield self.read_drift_run(f"run-{i}")
