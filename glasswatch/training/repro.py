"""Public reproducibility API: tracked runs, data lineage and environment capture.

::

    from glasswatch.training import repro

    with repro.tracked_run(project="churn", env="dev", seed=42) as run:
        f = repro.write_version(train_df, ".glasswatch/data", "v1", "train")
        repro.log_dataset(train_df, f.path, context="training", name="train", targets="y")
        repro.log_preprocessing({"scaler": "standard"})

Pure capture lives in :mod:`glasswatch.training.capture` and :mod:`glasswatch.training.data_version`;
the MLflow side in :mod:`glasswatch.training.tracking`. This facade sits outside
``core`` so it may import both.
"""

from __future__ import annotations

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
from glasswatch.training.data_version import DataFile, describe_file, dvc_md5, write_version
from glasswatch.training.tracking import (
    TrackedRun,
    log_dataset,
    log_preprocessing,
    pandas_dataset,
    tracked_run,
)

__all__ = [
    "DataFile",
    "EnvInfo",
    "GitInfo",
    "PriceTable",
    "TrackedRun",
    "describe_file",
    "dvc_md5",
    "env_info",
    "estimate_cost",
    "file_sha256",
    "fix_seeds",
    "git_info",
    "instance_type",
    "log_dataset",
    "log_preprocessing",
    "pandas_dataset",
    "tracked_run",
    "write_version",
]
