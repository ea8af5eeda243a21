"""The drift job: Evidently's data drift of a production window against the reference, plus
prediction drift and data-quality checks, as one frozen :class:`DriftResult`.

Decisions
---------
* Evidently computes the drift (:mod:`glasswatch.drift.evidently_report`: its legacy report, its
  HTML and JSON) and its defaults hold: the test by column type and reference size (K-S /
  chi-square / z for a reference of at most 1,000 rows, Wasserstein / Jensen-Shannon above), its
  thresholds, and dataset drift when ``share of drifted columns >= drift_share`` (Evidently's
  ``get_dataset_drift`` rule, applied here to the table's share); the spec may override the
  method and threshold per column.
* Whether a score is a p-value (drift below the threshold) or a distance (drift at or above it)
  is read off Evidently's own decision, and :attr:`ColumnResult.strength` puts both on one scale
  (how far past its threshold), which ranks the drifted columns.
* The data-quality checks Evidently does not make (missing share, values outside the reference's
  range, new categories) are :mod:`glasswatch.drift.quality`'s. Values of a numeric column that
  are not numbers count as missing. A column with fewer than two values on either side is not
  tested (``issues`` says why).
* Prediction drift compares the window's ``prediction`` with the reference's ``prediction``
  column, else with its target (the class mix the model was trained to reproduce).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
>>> cur = pd.DataFrame({"x": rng.normal(2, 1, size=300), "y": rng.normal(size=300)})
>>> r = run_drift(ref, cur, DriftSpec(), report=False)
>>> [c.column for c in r.drifted], r.share_drifted, r.dataset_drift
(['x'], 0.5, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from glasswatch.drift.evidently_report import column_drift, run_evidently
from glasswatch.drift.quality import column_quality, finite
from glasswatch.drift.rows import PREDICTION, PROBA_PREFIX, rows_of
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow
from glasswatch.errors import ConfigError
from glasswatch.monitor.replay import Message

__all__ = ["ColumnResult", "DriftResult", "run_drift", "run_window"]

_MAX_STRENGTH = 1e12


class ColumnResult(BaseModel):
    """Drift and quality of one column (``score`` is Evidently's p-value or distance)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    column: str
    column_type: Literal["num", "cat"]
    tested: bool = False
    method: str | None = None
    score: float | None = None
    score_kind: Literal["p_value", "distance"] | None = None
    threshold: float | None = None
    drifted: bool = False
    strength: float = 0.0
    """How far past its threshold: ``threshold / p`` or ``distance / threshold`` (> 1: drifted)."""
    missing_share: float = 0.0
    reference_missing_share: float = 0.0
    reference_min: float | None = None
    reference_max: float | None = None
    out_of_range_share: float | None = None
    new_categories: tuple[str, ...] = ()
    new_category_share: float | None = None
    issues: tuple[str, ...] = ()


class DriftResult(BaseModel):
    """What one drift job found (reports are Evidently's HTML and JSON, empty if not rendered)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    columns: tuple[ColumnResult, ...] = ()
    prediction: ColumnResult | None = None
    drift_share: float
    share_drifted: float = 0.0
    dataset_drift: bool = False
    rows_current: int = Field(default=0, ge=0)
    rows_reference: int = Field(default=0, ge=0)
    skipped: str | None = None
    evidently_version: str = ""
    report_html: str = ""
    report_json: str = ""

    @property
    def drifted(self) -> tuple[ColumnResult, ...]:
        """Drifted feature columns, strongest first (ties by name)."""
        return tuple(sorted((c for c in self.columns if c.drifted), key=lambda c: (-c.strength, c.column)))

    @property
    def quality_issues(self) -> dict[str, tuple[str, ...]]:
        """Column → its data-quality issues (columns without any left out)."""
        cols = [*self.columns, *([self.prediction] if self.prediction else [])]
        return {c.column: c.issues for c in cols if c.issues}

    def comparable(self) -> dict[str, Any]:
        """Everything but the reports and the Evidently version: equal for equal inputs."""
        return self.model_dump(mode="json", exclude={"report_html", "report_json", "evidently_version"})


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


def _as_cat(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.isna(), s.astype(str))


def _column(quality: dict[str, Any], drift: dict[str, Any] | None) -> ColumnResult:
    if drift is None:
        return ColumnResult(**quality)
    score, threshold = finite(drift["drift_score"]), finite(drift["stattest_threshold"])
    drifted = bool(drift["drift_detected"])
    kind: Literal["p_value", "distance"] | None = None
    strength = 0.0
    if score is not None and threshold is not None:
        # a p-value drifts below its threshold, a distance at or above it: Evidently decided which
        kind = "p_value" if (score < threshold) == drifted else "distance"
        raw = threshold / max(score, 1e-300) if kind == "p_value" else score / threshold
        strength = min(raw, _MAX_STRENGTH)
    return ColumnResult(**quality, tested=True, method=str(drift["stattest_name"]), score=score,
                        score_kind=kind, threshold=threshold, drifted=drifted, strength=strength)


def _features(reference: pd.DataFrame, spec: DriftSpec, target: str | None) -> list[str]:
    if spec.columns is not None:
        missing = [c for c in spec.columns if c not in reference.columns]
        if missing:
            raise ConfigError(f"drift columns not in the reference: {missing}")
        return list(spec.columns)
    skip = {target, PREDICTION}
    return [str(c) for c in reference.columns if c not in skip and not str(c).startswith(PROBA_PREFIX)]


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: DriftSpec,
    *,
    target: str | None = None,
    report: bool = True,
) -> DriftResult:
    """Compare ``current`` with ``reference`` (see the module docstring). ``target`` is the
    reference's label column (never a feature); ``report=False`` skips the HTML and JSON."""
    features = _features(reference, spec, target)
    base: dict[str, Any] = {"drift_share": spec.drift_share, "rows_current": len(current),
                            "rows_reference": len(reference)}
    if len(current) < spec.min_rows:
        return DriftResult(**base, skipped=f"{len(current)} rows < min_rows {spec.min_rows}")
    ref, cur = pd.DataFrame(index=reference.index), pd.DataFrame(index=current.index)
    kinds: dict[str, str] = {}
    quality: dict[str, dict[str, Any]] = {}
    for col in features:
        r = reference[col]
        c = current[col] if col in current.columns else pd.Series([None] * len(current), index=current.index)
        kind: Literal["num", "cat"] = "cat" if col in spec.categorical or _is_categorical(r) else "num"
        if kind == "num":
            r, c = pd.to_numeric(r, errors="coerce"), pd.to_numeric(c, errors="coerce").astype(float)
        else:
            r, c = _as_cat(r), _as_cat(c)
        ref[col], cur[col], kinds[col] = r, c, kind
        quality[col] = column_quality(col, kind, r, c, spec)
    tested = [col for col in features if "too_few_values" not in quality[col]["issues"]]
    pred_q: dict[str, Any] | None = None
    if spec.prediction and PREDICTION in current.columns:
        source = PREDICTION if PREDICTION in reference.columns else target
        if source is not None and source in reference.columns:
            rp, cp = reference[source], current[PREDICTION]
            numeric = not _is_categorical(rp) and not _is_categorical(cp)
            few = numeric and pd.concat([rp, cp]).nunique() <= 10
            kind = "cat" if (not numeric or few) else "num"
            if kind == "num":
                rp, cp = pd.to_numeric(rp, errors="coerce"), pd.to_numeric(cp, errors="coerce").astype(float)
            else:
                rp, cp = _as_cat(rp), _as_cat(cp)
            ref[PREDICTION], cur[PREDICTION], kinds[PREDICTION] = rp.to_numpy(), cp.to_numpy(), kind
            pred_q = column_quality(PREDICTION, kind, rp, cp, spec)
    pred = pred_q is not None and "too_few_values" not in pred_q["issues"]
    results: dict[str, Any] = {}
    html = js = version = ""
    if tested or pred:
        results, html, js, version = run_evidently(ref, cur, tested, kinds, pred, spec, report)
    by_col = results.get("DataDriftTable", {}).get("drift_by_columns", {})
    columns = tuple(_column(quality[c], column_drift(by_col.get(c))) for c in features)
    prediction = None
    if pred_q is not None:
        prediction = _column(pred_q, column_drift(results["ColumnDriftMetric"]) if pred else None)
    share = float(results.get("DataDriftTable", {}).get("share_of_drifted_columns", 0.0))
    return DriftResult(**base, columns=columns, prediction=prediction, share_drifted=share,
                       dataset_drift=bool(tested) and share >= spec.drift_share,  # Evidently's rule
                       skipped=None if tested or pred else "no column with values on both sides",
                       evidently_version=version, report_html=html, report_json=js)


def run_window(
    messages: Sequence[Message],
    window: DriftWindow,
    reference: pd.DataFrame,
    spec: DriftSpec,
    *,
    target: str | None = None,
    report: bool = True,
) -> tuple[pd.DataFrame, DriftResult]:
    """The drift job of one window: its rows from ``messages`` (:func:`~glasswatch.drift.rows.rows_of`)
    against ``reference``. A top-level function, so a process pool can run it."""
    rows = rows_of(messages, window)
    return rows, run_drift(reference, rows, spec, target=target, report=report)
