"""The Evidently call of a drift job: one legacy report over the tested columns.

Decisions
---------
* Evidently's *legacy* report API (``evidently.legacy``: ``DataDriftTable`` for the features,
  ``ColumnDriftMetric`` for the prediction) rather than the 0.7 ``Report``/``ValueDrift`` API:
  the legacy results carry, per column, the stat test Evidently chose, its threshold, the score
  and Evidently's own ``drift_detected``, and the share of drifted columns, in one object; the
  new API gives the score and the method but the drift flag only as a test status, and its
  ``DataDriftPreset`` computes every column three times and renders every Plotly widget while
  computing (~4 s against ~1 s for a 10,000 × 20 window). ``DatasetDriftMetric`` is left out:
  it recomputes every column only to apply the dataset-drift rule, which
  :func:`glasswatch.drift.job.run_drift` applies to the table's share. The HTML and JSON reports
  are Evidently's own.
* The spec's per-column ``method`` and ``threshold`` go to Evidently as its
  ``per_column_stattest`` options; a method Evidently does not know is a
  :class:`~glasswatch.errors.ConfigError`.
* Evidently runs with its warnings silenced (scipy divides by zero for an unseen category) and no
  network: the report path of Evidently sends no telemetry (only its UI service does), and the
  tests check that no socket is opened.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from glasswatch.drift.rows import PREDICTION
from glasswatch.drift.spec import DriftSpec
from glasswatch.errors import ConfigError

__all__ = ["column_drift", "run_evidently"]


def run_evidently(ref: pd.DataFrame, cur: pd.DataFrame, tested: Sequence[str], kinds: dict[str, str],
                  pred: bool, spec: DriftSpec, report: bool) -> tuple[dict[str, Any], str, str, str]:
    """Evidently on the ``tested`` columns (and on ``prediction`` when ``pred``), typed by
    ``kinds`` (``num``/``cat``): ``(results by metric class name, html, json, evidently version)``;
    the reports are empty unless ``report``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # import-time deprecations; scipy's divide-by-zero
        import evidently
        from evidently.legacy.metrics import ColumnDriftMetric, DataDriftTable
        from evidently.legacy.pipeline.column_mapping import ColumnMapping
        from evidently.legacy.report import Report

        per_method = {c: m for c in tested if (m := spec.column(c).method) is not None}
        per_threshold = {c: t for c in tested if (t := spec.column(c).threshold) is not None}
        options: dict[str, Any] = {"per_column_stattest": per_method or None,
                                   "per_column_stattest_threshold": per_threshold or None}
        metrics: list[Any] = []
        if tested:
            metrics.append(DataDriftTable(columns=list(tested), **options))
        if pred:
            p = spec.column(PREDICTION)
            metrics.append(ColumnDriftMetric(column_name=PREDICTION, stattest=p.method,
                                             stattest_threshold=p.threshold))
        cols = [*tested, *([PREDICTION] if pred else [])]
        mapping = ColumnMapping(
            numerical_features=[c for c in cols if kinds[c] == "num"],
            categorical_features=[c for c in cols if kinds[c] == "cat"],
            target=None, prediction=None, datetime=None, id=None,
        )
        rep = Report(metrics=metrics)
        try:
            rep.run(reference_data=ref[cols], current_data=cur[cols], column_mapping=mapping)
            results = {type(m).__name__: m.get_result().__dict__ for m in metrics}
        except (ValueError, KeyError) as exc:
            if "stattest" in str(exc).lower() or type(exc).__name__.startswith("StatTest"):
                raise ConfigError(f"drift spec: {exc}") from exc
            raise
        html = rep.get_html() if report else ""
        js = rep.json() if report else ""
        return results, html, js, str(evidently.__version__)


def column_drift(obj: Any) -> dict[str, Any] | None:
    """One column's drift result of Evidently as plain Python values (``None`` stays ``None``).

    >>> import numpy as np
    >>> column_drift({"drift_score": np.float64(0.01), "drift_detected": np.bool_(True)})
    {'drift_score': 0.01, 'drift_detected': True}
    """
    if obj is None:
        return None
    d = obj if isinstance(obj, dict) else obj.__dict__
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in d.items()}
