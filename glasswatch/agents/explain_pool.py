"""The explain process's pool: SHAP never runs on the agent's event loop.

Workers are spawned (no forked event loop or Kafka client) at a lower CPU priority
(:data:`glasswatch.agents.drift_pool.JOB_NICENESS`: explanations are best-effort, ingest on the
same machine is not) and warmed by importing shap and scikit-learn. Each worker keeps the
explainers of the last :data:`MAX_EXPLAINERS` model versions it was asked about (loaded from the
model's local MLflow directory, which the parent downloaded and checked). :func:`explain_rows`
is the picklable entry point; it reports the CPU seconds it took. :func:`explain_losses`
explains the loss of labelled rows (:mod:`glasswatch.explain.loss`, its explainers cached the
same way) and :func:`training_loss_profile` computes a version's training-time loss profile on
the labelled background rows (once per resolved version, the runtime asks).
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd

from glasswatch.agents.drift_pool import JOB_NICENESS
from glasswatch.explain.explainers import Attribution, LocalExplainer, explainer_for
from glasswatch.explain.loss import LossAttribution, LossExplainer, loss_explainer_for
from glasswatch.explain.loss_drift import LossProfile
from glasswatch.schemas.explanation import ExplainerKind

__all__ = ["MAX_EXPLAINERS", "ExplainBatch", "LossBatch", "explain_losses", "explain_pool", "explain_rows",
           "training_loss_profile", "warm_explain_pool"]

MAX_EXPLAINERS = 4
_EXPLAINERS: OrderedDict[str, LocalExplainer] = OrderedDict()
_LOSS_EXPLAINERS: OrderedDict[str, LossExplainer] = OrderedDict()
_E = TypeVar("_E", LocalExplainer, LossExplainer)


@dataclass(frozen=True)
class ExplainBatch:
    kind: ExplainerKind
    output: str
    attributions: list[Attribution]
    cpu_s: float


@dataclass(frozen=True)
class LossBatch:
    attributions: list[LossAttribution | None]
    """One per row; ``None`` where the model does not know the label."""
    cpu_s: float


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not on this platform
        os.nice(JOB_NICENESS)


def explain_pool(workers: int = 1) -> ProcessPoolExecutor:
    """``workers`` spawned processes at a lower CPU priority."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_lower_priority)


def warm_explain_pool() -> bool:
    """Import shap, scikit-learn and MLflow's sklearn flavour in a worker."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module("shap")
        importlib.import_module("sklearn.ensemble")
        importlib.import_module("mlflow.sklearn")
    return True


def _load(model_dir: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow.sklearn

        return mlflow.sklearn.load_model(model_dir)


def _cached(cache: OrderedDict[str, _E], model_dir: str, seed: int, build: Callable[[object], _E]) -> _E:
    """The explainer of ``model_dir`` and ``seed`` in ``cache`` (LRU of :data:`MAX_EXPLAINERS`),
    ``build`` from the loaded model the first time."""
    key = f"{model_dir}\x1f{seed}"
    known = cache.get(key)
    if known is None:
        known = cache[key] = build(_load(model_dir))
        while len(cache) > MAX_EXPLAINERS:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return known


def _explainer(model_dir: str, background: pd.DataFrame | None, seed: int) -> LocalExplainer:
    return _cached(_EXPLAINERS, model_dir, seed, lambda model: explainer_for(model, background, seed=seed))


def explain_rows(
    model_dir: str, background: pd.DataFrame | None, rows: pd.DataFrame, seed: int
) -> ExplainBatch:
    """Pool entry point (top level, picklable): the attributions of ``rows``, in order."""
    started = time.process_time()
    explainer = _explainer(model_dir, background, seed)
    attributions = explainer.explain(rows)
    return ExplainBatch(explainer.kind, explainer.output, attributions, time.process_time() - started)


def _loss_explainer(model_dir: str, background: pd.DataFrame, seed: int) -> LossExplainer:
    return _cached(_LOSS_EXPLAINERS, model_dir, seed,
                   lambda model: loss_explainer_for(model, background, seed=seed))


def explain_losses(
    model_dir: str, background: pd.DataFrame, rows: pd.DataFrame, labels: list[object], seed: int
) -> LossBatch:
    """Pool entry point: the loss contributions of labelled ``rows``, in order."""
    started = time.process_time()
    attributions = _loss_explainer(model_dir, background, seed).explain(rows, labels)
    return LossBatch(attributions, time.process_time() - started)


def training_loss_profile(
    model_dir: str, background: pd.DataFrame, labels: tuple[object, ...], seed: int
) -> LossProfile:
    """Pool entry point: the mean signed loss contribution per feature (and its standard error)
    on the labelled background rows of the reference (rows with a label the model does not
    know are left out)."""
    profile = LossProfile()
    for a in _loss_explainer(model_dir, background, seed).explain(background, list(labels)):
        if a is not None:
            profile.update(a.values)
    return profile
