"""Drift runs in MLflow: one run per drift window, logged and read back.

:class:`MlflowDriftRuns` is the drift-run half of
:class:`glasswatch.training.registry.MlflowReferenceStore`:

* ``log_drift_run``: one run per drift window in the experiment ``glasswatch-drift/<model>``
  (idempotent: a run already logged for the window id is returned as is, and an unfinished one
  left by a killed agent is deleted before the window is logged again): the production
  window as a dataset input (context ``production``, source = the Kafka offsets), tags for model,
  version, window id, offsets and time span, params for the reference digest and the spec,
  per-column metrics (``<column>.score``, ``.threshold``, ``.drifted``, ``.missing_share``,
  ``.out_of_range_share``), and artifacts ``drift/report.html`` and ``drift/report.json``
  (Evidently's) and ``drift/window.json``, ``drift/spec.json``, ``drift/result.json`` (ours).
* ``read_drift_run``: the window (exact offsets), spec and results of a logged run (what
  ``glasswatch drift rerun`` replays).
* ``drift_history``: a model's finished runs whose window ended before a time, newest first,
  each read lazily with its links (what a restarted drift agent rebuilds its alert state from).

Every call goes through the explicit ``MlflowClient`` it is given (no global MLflow state). MLflow
failures raise :class:`~glasswatch.errors.TrackingError`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from glasswatch.drift.job import DriftResult
from glasswatch.drift.reference import LoggedDriftRun, Reference, RunInfo
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow, format_offsets
from glasswatch.errors import TrackingError
from glasswatch.training import tags as tag
from glasswatch.training.datasets import KafkaOffsetsSource, RunArtifactSource, dataset_input

__all__ = ["DRIFT_EXPERIMENT_PREFIX", "MlflowDriftRuns", "metric_key"]

DRIFT_EXPERIMENT_PREFIX = "glasswatch-drift/"


def metric_key(column: str, stat: str) -> str:
    """MLflow metric key of one column's statistic (characters MLflow refuses become ``_``).

    >>> metric_key("age (years)", "score")
    'age _years_.score'
    """
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", f"{column}.{stat}")[:250]


class MlflowDriftRuns:
    """Drift runs logged with ``client``; links point into ``ui_url`` when there is one."""

    def __init__(self, client: MlflowClient, *, ui_url: str | None = None) -> None:
        self.client = client
        self.ui_url = ui_url

    def _experiment(self, model: str) -> str:
        name = DRIFT_EXPERIMENT_PREFIX + model
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except MlflowException:  # created concurrently
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                raise
            return str(exp.experiment_id)

    def _info(self, exp_id: str, run_id: str) -> RunInfo:
        if not self.ui_url:
            return RunInfo(run_id=run_id)
        return RunInfo(run_id=run_id, run_url=f"{self.ui_url}/#/experiments/{exp_id}/runs/{run_id}",
                       report_url=f"{self.ui_url}/get-artifact?path=drift%2Freport.html&run_uuid={run_id}")

    def log_drift_run(self, window: DriftWindow, reference: Reference, current: pd.DataFrame,
                      result: DriftResult, spec: DriftSpec) -> RunInfo:
        """Record one drift run (idempotent per window id); raises ``TrackingError``."""
        try:
            return self._log(window, reference, current, result, spec)
        except MlflowException as exc:
            raise TrackingError(f"cannot log the drift run of {window.model}: {exc.message}") from exc

    def _log(self, window: DriftWindow, reference: Reference, current: pd.DataFrame,
             result: DriftResult, spec: DriftSpec) -> RunInfo:
        exp_id = self._experiment(window.model)
        found = self.client.search_runs([exp_id], f"tags.`{tag.DRIFT_WINDOW}` = '{window.id}'")
        done = [r for r in found if r.info.status == "FINISHED"]
        if done:
            return self._info(exp_id, done[0].info.run_id)
        for stale in found:  # left RUNNING by a killed agent, or FAILED: one run per window
            self.client.delete_run(stale.info.run_id)
        offsets = format_offsets(window.offsets)
        run_tags = {
            tag.DRIFT_MODEL: window.model, tag.DRIFT_VERSION: str(window.model_version),
            tag.DRIFT_WINDOW: window.id, tag.DRIFT_OFFSETS: offsets[:5000],
            tag.DRIFT_START: window.start.isoformat(), tag.DRIFT_END: window.end.isoformat(),
            tag.DRIFT_DATASET: str(result.dataset_drift).lower(), tag.REFERENCE_SHA256: reference.sha256,
            tag.REFERENCE_URI: reference.uri,
        }
        run = self.client.create_run(exp_id, tags=run_tags,
                                     run_name=f"{window.model}-v{window.model_version}-{window.id}")
        rid = run.info.run_id
        try:
            source = KafkaOffsetsSource(window.source_uri, offsets=[o.model_dump() for o in window.offsets],
                                        start=window.start.isoformat(), end=window.end.isoformat())
            prod = dataset_input(current, source, f"{window.model}-window-{window.id}", "production")
            ref_src = RunArtifactSource(reference.uri, sha256=reference.sha256)
            ref = dataset_input(reference.data, ref_src, "reference", "reference", reference.target,
                                {tag.INPUT_SHA256: reference.sha256})
            self.client.log_inputs(rid, [prod, ref])
            params = {"reference_sha256": reference.sha256, "drift_share": spec.drift_share,
                      "evidently_version": result.evidently_version, "rows_current": result.rows_current,
                      "rows_reference": result.rows_reference, "spec_hash": spec.config_hash()}
            for k, v in params.items():
                self.client.log_param(rid, k, v)
            self._log_metrics(rid, result, int(window.end.timestamp() * 1000))
            self.client.log_text(rid, result.report_html, "drift/report.html")
            self.client.log_text(rid, result.report_json, "drift/report.json")
            self.client.log_text(rid, window.model_dump_json(indent=2), "drift/window.json")
            self.client.log_text(rid, spec.model_dump_json(indent=2), "drift/spec.json")
            doc = {"target": reference.target, "reference_sha256": reference.sha256,
                   "result": result.comparable()}
            self.client.log_text(rid, json.dumps(doc, indent=2), "drift/result.json")
        except BaseException:
            self.client.set_terminated(rid, "FAILED")
            raise
        self.client.set_terminated(rid, "FINISHED")
        return self._info(exp_id, rid)

    def _log_metrics(self, run_id: str, result: DriftResult, stamp_ms: int) -> None:
        metrics: dict[str, float] = {"share_drifted": result.share_drifted,
                                     "dataset_drift": float(result.dataset_drift)}
        for c in [*result.columns, *([result.prediction] if result.prediction else [])]:
            stats: dict[str, float | None] = {
                "score": c.score, "threshold": c.threshold, "drifted": float(c.drifted),
                "missing_share": c.missing_share, "out_of_range_share": c.out_of_range_share,
                "new_category_share": c.new_category_share,
            }
            metrics |= {metric_key(c.column, k): v for k, v in stats.items() if v is not None}
        items = [Metric(key=k, value=v, timestamp=stamp_ms, step=0) for k, v in metrics.items()]
        for i in range(0, len(items), 900):
            self.client.log_batch(run_id, metrics=items[i:i + 900])

    def read_drift_run(self, run_id: str) -> LoggedDriftRun:
        """The window, spec and results of a logged run; raises ``TrackingError``."""
        try:
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(self.client.download_artifacts(run_id, "drift", tmp))
                window = DriftWindow.model_validate_json((local / "window.json").read_text())
                spec = DriftSpec.model_validate_json((local / "spec.json").read_text())
                doc = json.loads((local / "result.json").read_text())
        except MlflowException as exc:
            raise TrackingError(f"cannot read drift run {run_id}: {exc.message}") from exc
        return LoggedDriftRun(run_id=run_id, window=window, spec=spec,
                              reference_sha256=doc["reference_sha256"], target=doc.get("target"),
                              result=doc["result"])

    def drift_history(self, model: str, before: datetime) -> Iterator[LoggedDriftRun]:
        """``model``'s finished drift runs whose window ended before ``before``, newest first (by
        creation: windows are logged in order), read one by one; raises ``TrackingError``."""
        try:
            exp = self.client.get_experiment_by_name(DRIFT_EXPERIMENT_PREFIX + model)
        except MlflowException as exc:
            raise TrackingError(f"cannot list the drift runs of {model}: {exc.message}") from exc
        if exp is None:
            return
        token: str | None = None
        while True:
            try:
                page = self.client.search_runs([exp.experiment_id], "attributes.status = 'FINISHED'",
                                               order_by=["attributes.start_time DESC"], max_results=100,
                                               page_token=token)
            except MlflowException as exc:
                raise TrackingError(f"cannot list the drift runs of {model}: {exc.message}") from exc
            for run in page:
                end = run.data.tags.get(tag.DRIFT_END)
                if end is None or datetime.fromisoformat(end) >= before:
                    continue
                info = self._info(str(exp.experiment_id), run.info.run_id)
                yield dataclasses.replace(self.read_drift_run(run.info.run_id), run_url=info.run_url,
                                          report_url=info.report_url)
            token = page.token
            if not token:
                return
