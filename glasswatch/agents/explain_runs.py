"""One MLflow run per attribution window of the explain process, with its SHAP artifacts.

:class:`MlflowWindowRuns` logs, in the experiment ``glasswatch-explain/<model>``, a run per
closed attribution window: tags for the model, version and time span, metrics (explanations,
rank correlation, distance, drifted) and the artifacts of
:func:`glasswatch.explain.plots.window_artifacts` under ``explain/`` — ``attributions.csv``,
``shap_bar.png``, ``shap_beeswarm.png``, ``window.json``, and for a drifted window the
``waterfall.png`` of its representative event (the one leaning most on the window's top
feature), which the ``attribution_drift`` alert links (``links.mlflow_run`` and
``evidence.waterfall``). These are the explain process's own windows (event time, ``--window-s``),
not the drift agent's runs. Blocking, and pyplot is not thread-safe: the runtime calls
:meth:`MlflowWindowRuns.log` from one dedicated thread. Failures raise
:class:`~glasswatch.errors.TrackingError`.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from glasswatch.errors import TrackingError
from glasswatch.explain.plots import WindowRow, window_artifacts
from glasswatch.schemas.explanation import AttributionWindow

__all__ = ["EXPLAIN_EXPERIMENT_PREFIX", "LoggedWindow", "MlflowWindowRuns", "WindowRuns"]

EXPLAIN_EXPERIMENT_PREFIX = "glasswatch-explain/"


@dataclass(frozen=True)
class LoggedWindow:
    run_id: str
    run_url: str | None
    artifact_uri: str
    """``runs:/<id>/explain``: where the window's files are."""
    waterfall: str | None = None


class WindowRuns(Protocol):
    def log(
        self, window: AttributionWindow, rows: list[WindowRow], waterfall_of: str | None
    ) -> LoggedWindow: ...


class MlflowWindowRuns:
    """:class:`WindowRuns` on an MLflow tracking server."""

    def __init__(self, tracking_uri: str, *, ui_url: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        web = ui_url or (tracking_uri if tracking_uri.startswith("http") else "")
        self.ui_url = web.rstrip("/") or None

    def log(self, window: AttributionWindow, rows: list[WindowRow], waterfall_of: str | None) -> LoggedWindow:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        client = MlflowClient(tracking_uri=self.tracking_uri)
        try:
            return self._log(client, window, rows, waterfall_of)
        except MlflowException as exc:
            raise TrackingError(
                f"cannot log the attribution window of {window.model}: {exc.message}"
            ) from exc

    def _log(
        self, client: object, window: AttributionWindow, rows: list[WindowRow], waterfall_of: str | None
    ) -> LoggedWindow:
        from mlflow.tracking import MlflowClient

        assert isinstance(client, MlflowClient)
        name = EXPLAIN_EXPERIMENT_PREFIX + window.model
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(name)
        run = client.create_run(
            exp_id,
            run_name=f"{window.model} v{window.model_version} {window.start:%Y-%m-%dT%H:%M}",
            tags={
                "glasswatch.model_name": window.model,
                "glasswatch.model_version": window.model_version,
                "glasswatch.window.start": window.start.isoformat(),
                "glasswatch.window.end": window.end.isoformat(),
            },
        )
        run_id = run.info.run_id
        metrics = {"explanations": float(window.explanations), "drifted": float(window.drifted)}
        if window.rank_correlation is not None and window.distance is not None:
            metrics |= {"rank_correlation": window.rank_correlation, "distance": window.distance}
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        with tempfile.TemporaryDirectory() as tmp:
            paths = window_artifacts(rows, Path(tmp), waterfall_of=waterfall_of)
            Path(tmp, "window.json").write_text(window.model_dump_json(indent=2), encoding="utf-8")
            for p in [*paths, Path(tmp, "window.json")]:
                client.log_artifact(run_id, str(p), "explain")
            waterfall = any(p.name == "waterfall.png" for p in paths)
        client.set_terminated(run_id)
        url = f"{self.ui_url}/#/experiments/{exp_id}/runs/{run_id}" if self.ui_url else None
        base = f"runs:/{run_id}/explain"
        return LoggedWindow(run_id, url, base, f"{base}/waterfall.png" if waterfall else None)
