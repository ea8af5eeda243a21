"""Data-quality checks of one column of a drift window against the reference.

Evidently drops missing values before testing, so the checks Evidently does not make are made
here, per column, next to its drift test: the missing share (against the reference's own, issue
``missing`` past ``max_missing_increase``), for a numeric column the share of values outside the
reference's ``[min, max]`` (``out_of_range``), for a categorical one the categories the reference
never had (``new_categories``, at most 20 listed), and ``too_few_values`` when either side has
fewer than two values (such a column is not tested). The thresholds are the spec's ``quality:``.

Examples
--------
>>> import pandas as pd
>>> from glasswatch.drift.spec import DriftSpec
>>> q = column_quality("x", "num", pd.Series([1.0, 2.0, 3.0, 4.0]),
...                    pd.Series([2.0, None, 9.0, 3.0]), DriftSpec())
>>> q["missing_share"], q["out_of_range_share"], q["issues"]
(0.25, 0.3333333333333333, ('missing', 'out_of_range'))
"""

from __future__ import annotations

import math
from typing import Any, Literal

import pandas as pd

from glasswatch.drift.spec import DriftSpec

__all__ = ["MAX_LISTED", "column_quality", "finite"]

MAX_LISTED = 20
"""New categories listed per column at most (the share counts them all)."""


def finite(x: Any) -> float | None:
    """``x`` as a finite float, else ``None`` (what a result may hold: no NaN, no infinity).

    >>> finite("1.5"), finite(float("inf")), finite(None)
    (1.5, None, None)
    """
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def column_quality(
    col: str, kind: Literal["num", "cat"], ref: pd.Series, cur: pd.Series, spec: DriftSpec
) -> dict[str, Any]:
    """The quality fields of a :class:`~glasswatch.drift.job.ColumnResult` (``issues`` among
    them) of column ``col`` of type ``kind``, typed already (numbers or strings, missing as NA)."""
    q = spec.quality
    out: dict[str, Any] = {"column": col, "column_type": kind}
    miss = float(cur.isna().mean()) if len(cur) else 0.0
    ref_miss = float(ref.isna().mean()) if len(ref) else 0.0
    out.update(missing_share=miss, reference_missing_share=ref_miss)
    issues = []
    if miss > ref_miss + q.max_missing_increase:
        issues.append("missing")
    cur_v, ref_v = cur.dropna(), ref.dropna()
    if kind == "num" and len(ref_v):
        lo, hi = float(ref_v.min()), float(ref_v.max())
        oor = float(((cur_v < lo) | (cur_v > hi)).mean()) if len(cur_v) else 0.0
        out.update(reference_min=finite(lo), reference_max=finite(hi), out_of_range_share=oor)
        if oor > q.max_out_of_range_share:
            issues.append("out_of_range")
    elif kind == "cat":
        known = set(ref_v.tolist())
        fresh = cur_v[~cur_v.isin(known)]
        share = float(len(fresh) / len(cur_v)) if len(cur_v) else 0.0
        listed = tuple(sorted(set(fresh.tolist()))[:MAX_LISTED])
        out.update(new_categories=listed, new_category_share=share)
        if share > q.max_new_category_share:
            issues.append("new_categories")
    if cur_v.size < 2 or ref_v.size < 2:
        issues.append("too_few_values")
    out["issues"] = tuple(issues)
    return out
