"""Tracked training runs: one context manager that makes an MLflow run reproducible.

::

    with tracked_run(project="churn", env="dev", seed=42, tracking_uri=uri) as run:
        log_dataset(train_df, "data/v1/train.csv", context="training", name="train", targets="y")
        log_preprocessing({"scaler": "standard"})
        ...  # fit, log the model

What one run records (tag keys: :mod:`glasswatch.training.tags`, read back by the checklist):

==========================  ==========================================================
tags                        project, env, user, seed, seeds_fixed, git commit / branch /
                            dirty (+ ``mlflow.source.git.commit``), uv.lock sha256, python,
                            platform, instance type, ``glasswatch.dataset.<name>.sha256``
params                      ``seed``, ``seed.<library>``, ``pkg.<distribution>``,
                            ``preprocessing.<key>``
metrics                     ``run_time_s``, ``estimated_cost_usd``, ``system/...`` (MLflow)
artifacts                   ``repro/environment.json``, ``repro/git.diff`` (dirty trees only),
                            ``repro/preprocessing.json``
inputs                      one per dataset: context input tag + ``glasswatch.sha256`` (+ md5)
==========================  ==========================================================

Decisions
---------
* System metrics are always on (``log_system_metrics=True``). MLflow samples on a background
  thread every ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` seconds (default 10): a run shorter
  than one interval records none, and the checklist says so. ``system_metrics_interval`` sets it.
* The full sha256 of the file bytes goes into an input tag and a run tag; MLflow's own dataset
  digest (its column is too short for a sha256) is that sha256's prefix, so a data set shows one
  digest; its source is repo-relative or a ``file://`` URI (:mod:`~glasswatch.training.data_version`).
* Untracked files outside the package do not make the tree dirty; they are listed in the tag
  ``glasswatch.git.untracked`` (:func:`~glasswatch.training.capture.git_info`).
* The git diff is logged as an artifact when the tree is dirty. It can contain anything the
  author typed; it is not scanned for secrets (do not keep secrets in tracked files).
* MLflow modules that register import hooks are imported *before* the run starts
  (:func:`preload_mlflow`). MLflow 3.17's system-metrics thread builds an ``MlflowClient``
  every sample, which tries ``import pyspark`` and so takes the interpreter's import lock and
  then MLflow's import-hook lock; a first import of ``mlflow.models.evaluation`` in the main
  thread takes them in the opposite order. Both threads then wait forever (seen in the
  integration tests, thread dump in the issue note). With the modules loaded up front the
  main thread never holds the hook lock during a run of our pipeline.
* Status: MLflow's own ``start_run`` context marks the run FAILED on an exception (KILLED on
  ``KeyboardInterrupt``); run time and cost are logged before that in every case.
"""

from __future__ import annotations

import dataclasses
import getpass
import importlib
import logging
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset, from_pandas
from mlflow.exceptions import MlflowException

from glasswatch.errors import ConfigError, TrackingError
from glasswatch.training import tags as tag
from glasswatch.training.capture import (
    EnvInfo,
    GitInfo,
    PriceTable,
    env_info,
    estimate_cost,
    file_sha256,
    fix_seeds,
    git_info,
    instance_type,
)
from glasswatch.training.data_version import dvc_md5, mlflow_digest, source_uri

__all__ = [
    "TrackedRun",
    "import_pyfunc_quietly",
    "log_dataset",
    "log_preprocessing",
    "pandas_dataset",
    "preload_mlflow",
    "tracked_run",
]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TrackedRun:
    """What :func:`tracked_run` captured for the active run."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    seed: int
    seeds: Mapping[str, str]
    git: GitInfo
    env: EnvInfo
    instance_type: str


def import_pyfunc_quietly() -> None:
    """Import ``mlflow.pyfunc`` without its import-time ``UserWarning``.

    MLflow 3.17 infers schemas of its own agent types when ``mlflow.pyfunc`` is first imported
    and warns "Any type hint is inferred as AnyType" about them: noise we cannot act on, fatal
    under ``filterwarnings = error``. Later imports are free (module cache).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
        importlib.import_module("mlflow.pyfunc")


def preload_mlflow() -> None:
    """Import the MLflow modules that register import hooks, before any background thread runs.

    See the module notes: avoids a lock-order deadlock with the system-metrics thread.
    """
    import_pyfunc_quietly()
    importlib.import_module("mlflow.models.evaluation.evaluator_registry")  # runs its hook now
    importlib.import_module("mlflow.models.evaluation.utils.trace")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _start_tags(project: str, env: str, seed: int, user: str, git: GitInfo, envi: EnvInfo,
                machine: str) -> dict[str, str]:
    tags = {
        tag.PROJECT: project,
        tag.ENV: env,
        tag.USER: user,
        tag.SEED: str(seed),
        tag.SEEDS_FIXED: "true",
        tag.PYTHON: envi.python,
        tag.PLATFORM: envi.platform,
        tag.INSTANCE_TYPE: machine,
        tag.UV_LOCK_SHA256: envi.uv_lock_sha256 or "missing",
        tag.GIT_DIRTY: str(git.dirty).lower(),
    }
    if git.commit:
        tags[tag.GIT_COMMIT] = git.commit
        tags[tag.MLFLOW_GIT_COMMIT] = git.commit
    if git.branch:
        tags[tag.GIT_BRANCH] = git.branch
    if git.error:
        tags[tag.GIT_ERROR] = git.error[:500]
    if git.untracked:
        tags[tag.GIT_UNTRACKED] = git.untracked_text()
    return tags


@contextmanager
def tracked_run(
    project: str,
    *,
    env: str = "dev",
    seed: int = 42,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    run_name: str | None = None,
    repo: str | Path = ".",
    lock_file: str | Path | None = None,
    user: str | None = None,
    tags: Mapping[str, str] | None = None,
    price_table: PriceTable | None = None,
    system_metrics_interval: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[TrackedRun]:
    """Start an MLflow run with seeds fixed and the code, data and machine lineage recorded.

    ``repo`` is where git state is read; ``lock_file`` defaults to ``<repo>/uv.lock``;
    ``experiment`` defaults to ``project``. Raises :class:`TrackingError` when MLflow is
    unreachable at the start.
    """
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    if system_metrics_interval is not None:
        mlflow.set_system_metrics_sampling_interval(system_metrics_interval)  # type: ignore[no-untyped-call]
        mlflow.set_system_metrics_samples_before_logging(1)  # type: ignore[no-untyped-call]
    preload_mlflow()
    seeds = fix_seeds(seed)
    git = git_info(repo)
    envi = env_info(lock_file=lock_file if lock_file is not None else Path(repo) / "uv.lock")
    machine = instance_type(environ)
    start_tags = _start_tags(project, env, seed, user or _user(), git, envi, machine)
    start_tags.update(tags or {})
    try:
        exp = mlflow.set_experiment(experiment or project)
        active = mlflow.start_run(
            experiment_id=exp.experiment_id, run_name=run_name, tags=start_tags, log_system_metrics=True
        )
    except MlflowException as exc:
        raise TrackingError(f"cannot start an MLflow run at {mlflow.get_tracking_uri()}: {exc}") from exc
    started = time.monotonic()
    with active:
        run = TrackedRun(
            run_id=active.info.run_id,
            experiment_id=exp.experiment_id,
            tracking_uri=mlflow.get_tracking_uri(),
            seed=seed,
            seeds=seeds,
            git=git,
            env=envi,
            instance_type=machine,
        )
        mlflow.log_params(
            {"seed": seed}
            | {f"seed.{lib}": value for lib, value in seeds.items()}
            | {f"pkg.{name}": version for name, version in envi.packages.items()}
        )
        mlflow.log_dict(dataclasses.asdict(envi) | {"instance_type": machine}, "repro/environment.json")
        if git.dirty:
            mlflow.log_text(git.diff, "repro/git.diff")
        try:
            yield run
        finally:
            _log_cost(time.monotonic() - started, machine, price_table)


def _log_cost(seconds: float, machine: str, price_table: PriceTable | None) -> None:
    """Run time and cost; never raises (it runs in ``finally`` and must not mask the real error)."""
    metrics = {"run_time_s": round(seconds, 3)}
    tags = {}
    try:
        metrics["estimated_cost_usd"] = estimate_cost(seconds, machine, price_table)
    except ConfigError as exc:
        tags[tag.COST_ERROR] = str(exc)[:500]
    try:
        mlflow.log_metrics(metrics)
        if tags:
            mlflow.set_tags(tags)
    except MlflowException as exc:
        log.warning("could not log run time and cost: %s", exc.message)


def log_dataset(
    df: pd.DataFrame,
    path: str | Path,
    context: str,
    name: str,
    targets: str | None = None,
) -> str:
    """Log ``df`` (read from or written to ``path``) as an input of the active run.

    Returns the sha256 of the file bytes, which is also recorded as the input tag
    ``glasswatch.sha256`` and the run tag ``glasswatch.dataset.<name>.sha256``.
    """
    p = Path(path)
    digest = file_sha256(p)
    input_tags = {tag.INPUT_SHA256: digest, tag.INPUT_PATH: source_uri(p)}
    md5 = dvc_md5(p)
    if md5:
        input_tags[tag.INPUT_DVC_MD5] = md5
    dataset = pandas_dataset(df, p, name, targets, sha256=digest)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        mlflow.log_input(dataset, context=context, tags=input_tags)  # the schema is inferred here
    mlflow.set_tags({tag.dataset_sha256(name): digest, tag.dataset_context(name): context})
    return digest


def pandas_dataset(
    df: pd.DataFrame, path: str | Path, name: str, targets: str | None = None, *, sha256: str | None = None
) -> PandasDataset:
    """MLflow dataset of ``df`` whose source is the file it came from (repo-relative path or
    ``file://`` URI, :func:`~glasswatch.training.data_version.source_uri`) and whose digest is the
    prefix of the file's sha256 (``sha256``, computed when not given; see
    :mod:`~glasswatch.training.data_version`).

    Pass the same object to ``mlflow.models.evaluate`` after :func:`log_dataset` logged it:
    MLflow keys inputs by (name, digest), so the evaluation reuses the input that carries our
    context and digest tags instead of adding an untagged one.
    """
    with warnings.catch_warnings():
        # MLflow registers its local source for both "" and "file" schemes and warns about the
        # (harmless) ambiguity; and it hints about integer columns when inferring the schema.
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted", UserWarning)
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        digest = mlflow_digest(sha256 or file_sha256(path))
        return from_pandas(df, source=source_uri(path), name=name, targets=targets, digest=digest)


def log_preprocessing(params: Mapping[str, Any]) -> None:
    """Log preprocessing choices as ``preprocessing.<key>`` params and one JSON artifact."""
    mlflow.log_params({f"preprocessing.{key}": value for key, value in params.items()})
    mlflow.log_dict(dict(params), "repro/preprocessing.json")
