"""The reference store on MLflow: references of registered model versions, and drift runs.

:class:`MlflowReferenceStore` implements :class:`glasswatch.drift.reference.ReferenceStore`:

* ``resolve(model, version)``: the version (``MlflowClient.get_model_version``), its reference
  file from the version tags ``glasswatch.reference.uri`` / ``.sha256`` (what ``glasswatch
  train`` and ``glasswatch reference register`` write, :mod:`glasswatch.training.datasets`), else
  from the version run's input logged with context ``reference``; downloaded once into the
  :class:`ReferenceCache` (verified against the sha256). When the registered model can be loaded,
  the reference gets a ``prediction`` column (the version's own predictions on it) for prediction
  drift, and ``importance`` is the global importance the version's tag
  ``glasswatch.explain.importance`` points at (``explain/global_importance.json`` of the
  training run: mean |SHAP|, else impurity). ``None``: no such version, or no reference
  registered for it.
* ``log_drift_run`` / ``read_drift_run`` / ``drift_history``: one MLflow run per drift window, handed to
  :class:`~glasswatch.training.drift_runs.MlflowDriftRuns` (see there for what a run holds).

Every call goes through an explicit ``MlflowClient(tracking_uri)`` (no global MLflow state): the
drift agent calls it from executor threads. MLflow failures raise
:class:`~glasswatch.errors.TrackingError`.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from glasswatch.drift.job import DriftResult
from glasswatch.drift.reference import (
    LoggedDriftRun,
    Reference,
    ReferenceCache,
    RunInfo,
    file_digest,
    read_frame,
)
from glasswatch.drift.rows import PREDICTION
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow
from glasswatch.errors import TrackingError
from glasswatch.training import tags as tag
from glasswatch.training.datasets import DEFAULT_TARGET
from glasswatch.training.drift_runs import MlflowDriftRuns

__all__ = ["MlflowReferenceStore"]

log = logging.getLogger(__name__)


def _runs_uri(uri: str) -> tuple[str, str] | None:
    m = re.match(r"^runs:/([^/]+)/(.+)$", uri)
    return (m.group(1), m.group(2)) if m else None


class MlflowReferenceStore:
    """:class:`~glasswatch.drift.reference.ReferenceStore` on an MLflow tracking server."""

    def __init__(self, tracking_uri: str, cache: ReferenceCache, *, ui_url: str | None = None,
                 predict: bool = True) -> None:
        self.tracking_uri = tracking_uri
        self.cache = cache
        web = ui_url or (tracking_uri if tracking_uri.startswith("http") else "")
        self.ui_url = web.rstrip("/") or None
        self.predict = predict
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.runs = MlflowDriftRuns(self.client, ui_url=self.ui_url)

    # -- references ----------------------------------------------------------------------
    def resolve(self, model: str, version: str) -> Reference | None:
        try:
            mv = self.client.get_model_version(model, version)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            where = f"{model} v{version} from {self.tracking_uri}"
            raise TrackingError(f"cannot read {where}: {exc.message}") from exc
        tags = dict(mv.tags or {})
        uri, sha = tags.get(tag.REFERENCE_URI), tags.get(tag.REFERENCE_SHA256)
        if not uri and mv.run_id:
            uri, sha = self._reference_input(mv.run_id)
        if not uri:
            return None
        path = self._fetch(uri, sha)
        data = read_frame(path)
        default = DEFAULT_TARGET if DEFAULT_TARGET in data.columns else None
        target = tags.get(tag.REFERENCE_TARGET) or default
        features = tuple(str(c) for c in data.columns if c not in {target, PREDICTION})
        prediction = PREDICTION if PREDICTION in data.columns else None
        if prediction is None and self.predict:
            preds = self._predictions(model, version, data[list(features)])
            if preds is not None:
                data = data.assign(**{PREDICTION: preds})
                prediction = PREDICTION
        return Reference(model=model, version=str(version), data=data, uri=uri, sha256=file_digest(path),
                         features=features, target=target, prediction=prediction, run_id=mv.run_id,
                         importance=self._importance(model, version, tags))

    def _importance(self, model: str, version: str, tags: dict[str, str]) -> dict[str, float] | None:
        """The global importance the version's tag :data:`~glasswatch.training.explain.IMPORTANCE_TAG`
        points at (``mean_abs_shap``, else ``impurity``); ``None`` when absent or unreadable (drift
        is still checked, its alerts only lack the ranking)."""
        from glasswatch.training.explain import IMPORTANCE_TAG

        parts = _runs_uri(tags.get(IMPORTANCE_TAG, ""))
        if parts is None:
            return None
        try:
            with tempfile.TemporaryDirectory() as tmp:
                local = self.client.download_artifacts(parts[0], parts[1], tmp)
                doc = json.loads(Path(local).read_text(encoding="utf-8"))
            values = doc.get("mean_abs_shap") or doc.get("impurity")
            return {str(k): float(v) for k, v in values.items()} if isinstance(values, dict) else None
        except (MlflowException, OSError, ValueError, AttributeError, TypeError) as exc:
            log.warning("no global importance for %s v%s: %s: %s", model, version, type(exc).__name__, exc)
            return None

    def _reference_input(self, run_id: str) -> tuple[str | None, str | None]:
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            raise TrackingError(f"cannot read run {run_id}: {exc.message}") from exc
        for di in run.inputs.dataset_inputs if run.inputs else []:
            itags = {t.key: t.value for t in di.tags}
            if itags.get(tag.MLFLOW_DATA_CONTEXT) == "reference":
                try:
                    src = json.loads(di.dataset.source)
                except ValueError:
                    continue
                uri = src.get("uri") or src.get("path")
                if uri:
                    return str(uri), itags.get(tag.INPUT_SHA256)
        return None, None

    def _fetch(self, uri: str, sha256: str | None) -> Path:
        if sha256 and (hit := self.cache.get(sha256)) is not None:
            return hit
        with tempfile.TemporaryDirectory() as tmp:
            try:
                parts = _runs_uri(uri)
                if parts:
                    local = self.client.download_artifacts(parts[0], parts[1], tmp)
                elif Path(uri).is_file():
                    local = uri
                else:
                    import mlflow.artifacts

                    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp,
                                                                tracking_uri=self.tracking_uri)
            except MlflowException as exc:
                raise TrackingError(f"cannot download the reference {uri}: {exc.message}") from exc
            try:
                return self.cache.put(local, sha256)
            except ValueError as exc:
                raise TrackingError(f"reference {uri}: {exc}") from exc

    def _predictions(self, model: str, version: str, features: pd.DataFrame) -> list[Any] | None:
        """The version's predictions on the reference, or ``None`` when it cannot be loaded."""
        try:
            import mlflow.artifacts
            import mlflow.pyfunc

            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # not ``models:/``: that resolves against the process's global registry URI
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=self.client.get_model_version_download_uri(model, version), dst_path=tmp,
                    tracking_uri=self.tracking_uri)
                preds = mlflow.pyfunc.load_model(local).predict(features)
            return list(pd.Series(preds).tolist()) if len(preds) == len(features) else None
        except Exception as exc:  # any flavour, any failure: prediction drift falls back to the target
            log.warning("no reference predictions for %s v%s: %s: %s", model, version,
                        type(exc).__name__, exc)
            return None

    # -- drift runs -------------------------------------------------------------------------
    def log_drift_run(self, window: DriftWindow, reference: Reference, current: pd.DataFrame,
                      result: DriftResult, spec: DriftSpec) -> RunInfo:
        return self.runs.log_drift_run(window, reference, current, result, spec)

    def read_drift_run(self, run_id: str) -> LoggedDriftRun:
        return self.runs.read_drift_run(run_id)

    def drift_history(self, model: str, before: datetime) -> Iterator[LoggedDriftRun]:
        return self.runs.drift_history(model, before)
