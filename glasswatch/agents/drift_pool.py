"""The drift jobs' process pool: Evidently never runs on the agent's event loop.

Workers are spawned (no forked event loop or Kafka client), start at a lower CPU priority
(``JOB_NICENESS``: drift is batch work, ingest on the same machine is not) and are warmed by
importing Evidently once, so the first window does not pay for it. :func:`run_job` is the
picklable entry point.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from glasswatch.drift.job import DriftResult, run_window
from glasswatch.drift.reference import Reference
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow
from glasswatch.monitor.replay import Message

__all__ = ["JOB_NICENESS", "job_pool", "run_job", "warm_pool"]

JOB_NICENESS = 10
"""Added to the pool workers' niceness: drift jobs are batch work, ingest is not."""


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not on this platform
        os.nice(JOB_NICENESS)


def job_pool(workers: int = 1) -> ProcessPoolExecutor:
    """The drift jobs' pool: ``workers`` spawned processes at niceness + ``JOB_NICENESS``."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_lower_priority)


def warm_pool() -> bool:
    """Import Evidently in a pool worker (its first job would otherwise pay for it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module("evidently.legacy.report")
        importlib.import_module("evidently.legacy.metrics")
    return True


def run_job(
    messages: list[Message], window: DriftWindow, ref: Reference, spec: DriftSpec
) -> tuple[pd.DataFrame, DriftResult]:
    """Pool entry point (top level, picklable): rows and result of one window."""
    return run_window(messages, window, ref.data, spec, target=ref.target)
