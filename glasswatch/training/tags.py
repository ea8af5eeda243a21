"""The MLflow tag keys glasswatch writes and reads back: one constant per key.

The training side writes these on runs, dataset inputs and model versions
(:mod:`~glasswatch.training.tracking`, :mod:`~glasswatch.training.pipeline`,
:mod:`~glasswatch.training.gate`); the checklist (:mod:`~glasswatch.training.checklist`) and
people read them back. The strings are a wire format: renaming one orphans every run already
recorded.

=========================  ====================================  ===================================
constant                   key                                   value
=========================  ====================================  ===================================
``PROJECT``                ``glasswatch.project``                project name (run)
``ENV``                    ``glasswatch.env``                    environment, e.g. ``dev`` (run)
``USER``                   ``glasswatch.user``                   who started the run (run)
``SEED``                   ``glasswatch.seed``                   the seed (run, model version)
``SEEDS_FIXED``            ``glasswatch.seeds_fixed``            ``true`` once every RNG was seeded
``PYTHON``                 ``glasswatch.python``                 interpreter version (run)
``PLATFORM``               ``glasswatch.platform``               ``platform.platform()`` (run)
``INSTANCE_TYPE``          ``glasswatch.instance_type``          machine class, e.g. ``m5.large``
``UV_LOCK_SHA256``         ``glasswatch.uv_lock_sha256``         sha256 of ``uv.lock`` or ``missing``
``GIT_COMMIT``             ``glasswatch.git.commit``             HEAD commit (run, model version)
``GIT_BRANCH``             ``glasswatch.git.branch``             branch name (run)
``GIT_DIRTY``              ``glasswatch.git.dirty``              ``true`` / ``false`` (run, version)
``GIT_ERROR``              ``glasswatch.git.error``              why git state is unknown (run)
``GIT_UNTRACKED``          ``glasswatch.git.untracked``          untracked files outside the package
``COST_ERROR``             ``glasswatch.cost_error``             why no cost was estimated (run)
``dataset_sha256(n)``      ``glasswatch.dataset.<n>.sha256``     file sha256 of split ``n``
``dataset_context(n)``     ``glasswatch.dataset.<n>.context``    its input context, e.g. ``training``
``INPUT_SHA256``           ``glasswatch.sha256``                 file sha256 (dataset input tag)
``INPUT_PATH``             ``glasswatch.path``                   repo path or file:// URI (input tag)
``INPUT_DVC_MD5``          ``glasswatch.dvc_md5``                DVC md5 (dataset input tag)
``MODEL_NAME``             ``glasswatch.model_name``             registered model name (run)
``MODEL_SHA256``           ``glasswatch.model_sha256``           sha256 of the pickled model
``MODEL_VERSION``          ``glasswatch.model_version``          registered version (run)
``RUN_ID``                 ``glasswatch.run_id``                 training run (model version)
``MONITOR_SPEC``           ``glasswatch.monitor_spec``           ``<path> sha256=<hex>`` (run)
``REFERENCE_URI``          ``glasswatch.reference.uri``          ``runs:/<id>/reference/<file>``
``REFERENCE_SHA256``       ``glasswatch.reference.sha256``       sha256 of the reference data set
``REFERENCE_TARGET``       ``glasswatch.reference.target``       label column of the reference
``DRIFT_MODEL``            ``glasswatch.drift.model``            model a drift run checked (run)
``DRIFT_VERSION``          ``glasswatch.drift.version``          its model version (run)
``DRIFT_WINDOW``           ``glasswatch.drift.window``           drift window id (run)
``DRIFT_OFFSETS``          ``glasswatch.drift.offsets``          ``topic:partition:first-last,...``
``DRIFT_START``            ``glasswatch.drift.start``            window start, ISO-8601 (run)
``DRIFT_END``              ``glasswatch.drift.end``              window end, ISO-8601 (run)
``DRIFT_DATASET``          ``glasswatch.drift.dataset_drift``    ``true`` / ``false`` (run)
``GATE``                   ``glasswatch.gate``                   ``passed`` / ``failed``
``GATE_ROLE``              ``glasswatch.gate.role``              ``baseline`` on the champion's run
``MLFLOW_GIT_COMMIT``      ``mlflow.source.git.commit``          MLflow's own commit tag (run)
``MLFLOW_DATA_CONTEXT``    ``mlflow.data.context``               MLflow's input context tag
=========================  ====================================  ===================================

Examples
--------
>>> GIT_COMMIT, dataset_sha256("train")
('glasswatch.git.commit', 'glasswatch.dataset.train.sha256')
"""

from __future__ import annotations

__all__ = [
    "COST_ERROR",
    "DRIFT_DATASET",
    "DRIFT_END",
    "DRIFT_MODEL",
    "DRIFT_OFFSETS",
    "DRIFT_START",
    "DRIFT_VERSION",
    "DRIFT_WINDOW",
    "ENV",
    "GATE",
    "GATE_ROLE",
    "GIT_BRANCH",
    "GIT_COMMIT",
    "GIT_DIRTY",
    "GIT_ERROR",
    "GIT_UNTRACKED",
    "INPUT_DVC_MD5",
    "INPUT_PATH",
    "INPUT_SHA256",
    "INSTANCE_TYPE",
    "MLFLOW_DATA_CONTEXT",
    "MLFLOW_GIT_COMMIT",
    "MODEL_NAME",
    "MODEL_SHA256",
    "MODEL_VERSION",
    "MONITOR_SPEC",
    "PLATFORM",
    "PREFIX",
    "PROJECT",
    "PYTHON",
    "REFERENCE_SHA256",
    "REFERENCE_TARGET",
    "REFERENCE_URI",
    "RUN_ID",
    "SEED",
    "SEEDS_FIXED",
    "USER",
    "UV_LOCK_SHA256",
    "dataset_context",
    "dataset_sha256",
]

PREFIX = "glasswatch."
"""Prefix of every tag glasswatch writes."""

PROJECT = "glasswatch.project"
ENV = "glasswatch.env"
USER = "glasswatch.user"
SEED = "glasswatch.seed"
SEEDS_FIXED = "glasswatch.seeds_fixed"
PYTHON = "glasswatch.python"
PLATFORM = "glasswatch.platform"
INSTANCE_TYPE = "glasswatch.instance_type"
UV_LOCK_SHA256 = "glasswatch.uv_lock_sha256"
GIT_COMMIT = "glasswatch.git.commit"
GIT_BRANCH = "glasswatch.git.branch"
GIT_DIRTY = "glasswatch.git.dirty"
GIT_ERROR = "glasswatch.git.error"
GIT_UNTRACKED = "glasswatch.git.untracked"
COST_ERROR = "glasswatch.cost_error"

INPUT_SHA256 = "glasswatch.sha256"
INPUT_PATH = "glasswatch.path"
INPUT_DVC_MD5 = "glasswatch.dvc_md5"

MODEL_NAME = "glasswatch.model_name"
MODEL_SHA256 = "glasswatch.model_sha256"
MODEL_VERSION = "glasswatch.model_version"
RUN_ID = "glasswatch.run_id"
MONITOR_SPEC = "glasswatch.monitor_spec"
REFERENCE_URI = "glasswatch.reference.uri"
REFERENCE_SHA256 = "glasswatch.reference.sha256"
REFERENCE_TARGET = "glasswatch.reference.target"
DRIFT_MODEL = "glasswatch.drift.model"
DRIFT_VERSION = "glasswatch.drift.version"
DRIFT_WINDOW = "glasswatch.drift.window"
DRIFT_OFFSETS = "glasswatch.drift.offsets"
DRIFT_START = "glasswatch.drift.start"
DRIFT_END = "glasswatch.drift.end"
DRIFT_DATASET = "glasswatch.drift.dataset_drift"
GATE = "glasswatch.gate"
GATE_ROLE = "glasswatch.gate.role"

MLFLOW_GIT_COMMIT = "mlflow.source.git.commit"
MLFLOW_DATA_CONTEXT = "mlflow.data.context"


def dataset_sha256(name: str) -> str:
    """Run / model-version tag holding the file sha256 of the split ``name``."""
    return f"{PREFIX}dataset.{name}.sha256"


def dataset_context(name: str) -> str:
    """Run tag holding the input context (``training``, ...) of the split ``name``."""
    return f"{PREFIX}dataset.{name}.context"
