"""Example training pipeline: breast-cancer classifier, end to end with full lineage.

Steps (all inside one :func:`~glasswatch.training.repro.tracked_run`):

1. load scikit-learn's bundled breast-cancer data (no download), split it with a *fixed*
   ``split_seed`` into train / validation / reference and write ``<data_dir>/<version>/*.csv``;
2. log the three files as run inputs (contexts ``training``, ``validation``, ``reference``) with
   their sha256 (and DVC md5 when a ``.dvc`` pointer exists), and the preprocessing params;
3. fit ``select features -> StandardScaler -> <estimator>``: ``forest`` (RandomForestClassifier,
   100 trees, the default), ``gbm`` (GradientBoostingClassifier) or ``logistic``
   (LogisticRegression, lbfgs), all seeded and deterministic;
4. log the importance and the SHAP summary (JSON + PNG) under ``explain/``: coefficients
   (logistic), and for every estimator the global importance (impurity, permutation, mean |SHAP|
   with the production explainers, :func:`~glasswatch.training.explain.global_importance`),
   referenced from the registered version's tag ``glasswatch.explain.importance``;
5. log the model, run the quality gate (:mod:`glasswatch.training.gate`), register a model
   version whose tags carry the dataset digests, git commit, model hash and the reference
   dataset pointer, and move the ``champion`` alias when the gate passed; a refused candidate
   sends one ``quality_gate`` alert to the injected ``sink``
   (:mod:`glasswatch.training.alert_sink`: the alerts topic or the notifiers, as the monitors'
   alerts go);
6. log that training finished or failed (the ``train`` command prints the result).

Decisions
---------
* The data split does not depend on the training seed: one data version is one set of bytes,
  whatever model is trained on it (``write_version`` refuses to overwrite different bytes).
* The model hash is ``sha256(pickle.dumps(model, protocol=5))`` of the fitted pipeline; the
  pickle holds only arrays, plain values and the sklearn version, so equal fits give equal
  bytes (checked by the integration tests across two runs).
* Tree models are logged with ``skops_trusted_types=["sklearn.tree._tree.Tree"]``: MLflow's
  default skops format refuses to load them otherwise. We trust them: this run produced them.
* Tag keys come from :mod:`glasswatch.training.tags`.
* A refused candidate is still registered (tag ``glasswatch.gate=failed``, no alias) so the
  evidence stays inspectable; then :class:`~glasswatch.errors.GateFailed` propagates.
* The reference dataset for the monitor is logged as the run artifact
  ``reference/reference.csv``; run tag and version tags ``glasswatch.reference.uri`` /
  ``glasswatch.reference.sha256`` point at it.
* A monitor spec ``<repo>/monitors/<model>.yaml`` is validated (:mod:`glasswatch.monitor.specs`),
  logged as ``monitor/<model>.yaml`` and recorded in the run tag ``glasswatch.monitor_spec``
  (path and sha256).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from glasswatch.errors import ConfigError, GateFailed
from glasswatch.monitor.specs import load_spec_text
from glasswatch.schemas.alert import Lineage
from glasswatch.schemas.text import decode_utf8
from glasswatch.training import explain
from glasswatch.training import tags as tag
from glasswatch.training.alert_sink import AlertSink, log_sink
from glasswatch.training.gate import GateConfig, enforce, evaluate_gate
from glasswatch.training.repro import (
    PriceTable,
    file_sha256,
    log_dataset,
    log_preprocessing,
    pandas_dataset,
    tracked_run,
    write_version,
)
from glasswatch.training.tracking import import_pyfunc_quietly

__all__ = ["ESTIMATORS", "TARGET", "TrainConfig", "TrainResult", "load_splits", "model_hash", "train"]

log = logging.getLogger("glasswatch.training")

TARGET = "target"
ESTIMATORS = ("forest", "gbm", "logistic")
"""``TrainConfig.estimator`` values: random forest (default), gradient boosting, logistic regression."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (the seed is the only source of randomness)."""

    model_name: str = "breast-cancer"
    seed: int = 42
    project: str = "glasswatch"
    env: str = "dev"
    experiment: str | None = None
    tracking_uri: str | None = None
    data_dir: Path = Path(".glasswatch/data")
    data_version: str = "v1"
    split_seed: int = 0
    features: tuple[str, ...] | None = None
    """Subset of the 30 features the model uses (None: all)."""
    C: float = 1.0
    estimator: str = "forest"
    """One of :data:`ESTIMATORS`."""
    gate: GateConfig = field(default_factory=GateConfig)
    repo: Path = Path(".")
    shap_sample: int = 200
    system_metrics_interval: float | None = None
    price_table: PriceTable | None = None


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_version: str
    model_sha256: str
    metrics: dict[str, float]
    champion: bool
    dataset_digests: dict[str, str]


def load_splits(split_seed: int = 0) -> dict[str, pd.DataFrame]:
    """Train (60%), validation (20%) and reference (20%) splits, stratified, fixed by ``split_seed``."""
    frame = load_breast_cancer(as_frame=True).frame
    train, rest = train_test_split(frame, test_size=0.4, random_state=split_seed, stratify=frame[TARGET])
    validation, reference = train_test_split(rest, test_size=0.5, random_state=split_seed,
                                             stratify=rest[TARGET])
    return {name: df.reset_index(drop=True)
            for name, df in (("train", train), ("validation", validation), ("reference", reference))}


def model_hash(model: Any) -> str:
    """sha256 of the pickled fitted model (protocol fixed at 5)."""
    return hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()


def _pip_requirements() -> list[str]:
    """Pin what the pyfunc needs instead of letting MLflow infer it (slow, and a subprocess)."""
    names = ("scikit-learn", "numpy", "pandas", "scipy")
    return [f"{n}=={importlib.metadata.version(n)}" for n in names]


def _log_explanations(model: Any, valid: pd.DataFrame, background: pd.DataFrame, features: list[str],
                      cfg: TrainConfig) -> str:
    """Log the explanations; returns the ``runs:/`` URI of the global importance JSON."""
    x_valid, y_valid = valid.drop(columns=[TARGET]), valid[TARGET]
    glob = explain.global_importance(model, x_valid, y_valid, features, background=background,
                                     sample=cfg.shap_sample, seed=cfg.seed)
    shap_values = (glob["mean_abs_shap"] if cfg.estimator != "logistic" else
                   explain.shap_summary(model, x_valid, features, sample=cfg.shap_sample, seed=cfg.seed))
    importance = (explain.coefficient_importance(model, features) if cfg.estimator == "logistic"
                  else glob.get("impurity", glob["permutation"]))
    mlflow.log_dict(importance, "explain/feature_importance.json")
    mlflow.log_dict(shap_values, "explain/shap_summary.json")
    mlflow.log_dict(glob, "explain/global_importance.json")
    imp_title = "|coefficient| (scaled)" if cfg.estimator == "logistic" else "impurity importance"
    with tempfile.TemporaryDirectory() as tmp:
        for name, values, title in (("shap_summary.png", shap_values, "mean |SHAP| per feature"),
                                    ("feature_importance.png", importance, imp_title),
                                    ("global_importance.png", glob["mean_abs_shap"],
                                     f"mean |SHAP| per feature ({glob['explainer']}, {glob['output']})"),
                                    ("permutation_importance.png", glob["permutation"],
                                     "permutation importance (ROC AUC drop)")):
            if explain.plot_bars(values, Path(tmp, name), title):
                mlflow.log_artifact(str(Path(tmp, name)), "explain")
    run = mlflow.active_run()
    assert run is not None
    return f"runs:/{run.info.run_id}/explain/global_importance.json"


def _log_monitor_spec(cfg: TrainConfig) -> None:
    spec = cfg.repo / "monitors" / f"{cfg.model_name}.yaml"
    if spec.is_file():
        # a broken spec (or one that is not UTF-8) fails the run with a ConfigError
        load_spec_text(decode_utf8(spec.read_bytes(), str(spec)), source=str(spec))
        mlflow.log_artifact(str(spec), "monitor")
        mlflow.set_tag(tag.MONITOR_SPEC, f"{spec.as_posix()} sha256={file_sha256(spec)}")


_TRUSTED_TYPES = {
    "forest": ("sklearn.tree._tree.Tree",),
    "gbm": ("sklearn.tree._tree.Tree",),
}
"""Types MLflow's skops format refuses to load unless the model was logged trusting them: the
tree node storage of the forests and boosting we fit ourselves (the bytes come from this run)."""


def _estimator(cfg: TrainConfig) -> Any:
    if cfg.estimator == "forest":
        return RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=cfg.seed, n_jobs=1)
    if cfg.estimator == "gbm":
        return GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=cfg.seed)
    if cfg.estimator == "logistic":
        return LogisticRegression(C=cfg.C, max_iter=5000, random_state=cfg.seed)
    raise ConfigError(f"unknown estimator {cfg.estimator!r}; one of {', '.join(ESTIMATORS)}")


def _params(cfg: TrainConfig) -> dict[str, Any]:
    if cfg.estimator == "forest":
        return {"model": "RandomForestClassifier", "n_estimators": 100, "min_samples_leaf": 2}
    if cfg.estimator == "gbm":
        return {"model": "GradientBoostingClassifier", "n_estimators": 100, "max_depth": 3}
    return {"model": "LogisticRegression", "C": cfg.C, "max_iter": 5000}


def _fit(train_df: pd.DataFrame, features: Sequence[str], cfg: TrainConfig) -> Pipeline:
    """The feature selection is the model's first step: it takes every column the monitor sees
    and a champion trained on other features can be evaluated on the same frame."""
    model = Pipeline([
        ("select", ColumnTransformer([("features", "passthrough", list(features))], remainder="drop")),
        ("scaler", StandardScaler()),
        ("clf", _estimator(cfg)),
    ])
    return model.fit(train_df.drop(columns=[TARGET]), train_df[TARGET])


def train(cfg: TrainConfig, *, sink: AlertSink = log_sink) -> TrainResult:
    """Run the pipeline; raises :class:`GateFailed` when the candidate is refused (after the
    ``quality_gate`` alert went to ``sink``)."""
    try:
        result = _train(cfg, sink)
    except GateFailed:
        raise  # the gate already alerted
    except Exception as exc:
        log.error("training %s failed: %s: %s", cfg.model_name, type(exc).__name__, exc)
        raise
    log.info("trained %s v%s roc_auc=%.4f champion=%s", cfg.model_name, result.model_version,
             result.metrics.get("roc_auc", float("nan")), result.champion)
    return result


def _train(cfg: TrainConfig, sink: AlertSink) -> TrainResult:
    splits = load_splits(cfg.split_seed)
    files = {name: write_version(df, cfg.data_dir, cfg.data_version, name) for name, df in splits.items()}
    features = list(cfg.features or [c for c in splits["train"].columns if c != TARGET])
    contexts = {"train": "training", "validation": "validation", "reference": "reference"}
    with tracked_run(cfg.project, env=cfg.env, seed=cfg.seed, experiment=cfg.experiment or cfg.project,
                     tracking_uri=cfg.tracking_uri, repo=cfg.repo,
                     tags={tag.MODEL_NAME: cfg.model_name},
                     system_metrics_interval=cfg.system_metrics_interval,
                     price_table=cfg.price_table) as run:
        digests = {name: log_dataset(splits[name], files[name].path, context=contexts[name], name=name,
                                     targets=TARGET) for name in files}
        log_preprocessing({"scaler": "StandardScaler", "features": ",".join(features),
                           "n_features": len(features), "split": "60/20/20 stratified",
                           "split_seed": cfg.split_seed, "data_version": cfg.data_version})
        mlflow.log_params({**_params(cfg), "estimator": cfg.estimator})
        model = _fit(splits["train"], features, cfg)
        digest = model_hash(model)
        mlflow.set_tag(tag.MODEL_SHA256, digest)
        x_valid = splits["validation"].drop(columns=[TARGET])
        background = splits["reference"].drop(columns=[TARGET])
        importance_uri = _log_explanations(model, splits["validation"], background, features, cfg)
        _log_monitor_spec(cfg)
        reference_uri = f"runs:/{run.run_id}/reference/{files['reference'].path.name}"
        mlflow.log_artifact(str(files["reference"].path), "reference")
        mlflow.set_tags({tag.REFERENCE_URI: reference_uri, tag.REFERENCE_SHA256: digests["reference"]})
        import_pyfunc_quietly()
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(x_valid, model.predict_proba(x_valid)),
            pip_requirements=_pip_requirements(),
            skops_trusted_types=list(_TRUSTED_TYPES.get(cfg.estimator, ())) or None,
        )
        # the whole validation split: each model's signature picks its own feature columns, so a
        # champion trained on other features is evaluated on the same rows; same name and digest
        # as the logged "validation" input, so MLflow reuses that input (context, sha256 tags)
        eval_ds = pandas_dataset(splits["validation"], files["validation"].path, "validation", TARGET)
        client = MlflowClient()
        gate = evaluate_gate(info.model_uri, eval_ds, TARGET, cfg.model_name, cfg.gate, client)
        version = mlflow.register_model(info.model_uri, cfg.model_name)
        version_tags = {tag.dataset_sha256(n): d for n, d in digests.items()} | {
            tag.GIT_COMMIT: run.git.commit or "unknown",
            tag.GIT_DIRTY: str(run.git.dirty).lower(),
            tag.RUN_ID: run.run_id,
            tag.SEED: str(cfg.seed),
            tag.MODEL_SHA256: digest,
            tag.REFERENCE_URI: reference_uri,
            tag.REFERENCE_SHA256: digests["reference"],
            tag.GATE: "passed" if gate.passed else "failed",
            explain.IMPORTANCE_TAG: importance_uri,
        }
        for key, value in version_tags.items():
            client.set_model_version_tag(cfg.model_name, version.version, key, value)
        mlflow.set_tags({tag.GATE: version_tags[tag.GATE], tag.MODEL_VERSION: str(version.version)})
        lineage = Lineage(model_version=str(version.version), mlflow_run_id=run.run_id,
                          reference_digest=digests["reference"], git_commit=run.git.commit)
        enforce(gate, cfg.model_name, cfg.gate, lineage=lineage, sink=sink)
        client.set_registered_model_alias(cfg.model_name, cfg.gate.alias, str(version.version))
        return TrainResult(run_id=run.run_id, model_version=str(version.version), model_sha256=digest,
                           metrics=dict(gate.candidate_metrics), champion=True, dataset_digests=digests)
