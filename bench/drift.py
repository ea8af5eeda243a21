"""Cost of the drift job against a plain scipy loop on the same data.

A 10,000 × 20 production window (18 numeric columns, 2 categorical; 3 numeric columns shifted)
against a 10,000-row reference, seeded. Per round, interleaved:

* ``evidently_job``: :func:`glasswatch.drift.job.run_drift` as the drift agent runs it — Evidently
  (legacy report: dataset drift + per-column table + prediction drift), the data-quality checks
  and the HTML and JSON reports;
* ``evidently_no_report``: the same without rendering the reports;
* ``scipy_loop``: per numeric column ``scipy.stats.ks_2samp`` and ``wasserstein_distance``, per
  categorical column a chi-square on the category counts — the tests, nothing else.

Prints JSON: per variant the median and min–max wall time over the rounds, the ratios of the
medians (target: the job within 10× of the scipy loop), and whether both flagged the same columns.
The first Evidently call (imports) is excluded by a warm-up run.

Run: ``.venv/bin/python bench/drift.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from glasswatch.drift.job import run_drift
from glasswatch.drift.spec import DriftSpec

ROWS, NUMERIC, CATEGORICAL = 10_000, 18, 2
SHIFTED = ("x0", "x1", "x2")


def data(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(shift: bool) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for i in range(NUMERIC):
            name = f"x{i}"
            cols[name] = rng.normal(0.5 if shift and name in SHIFTED else 0.0, 1.0, ROWS)
        for j in range(CATEGORICAL):
            cols[f"c{j}"] = rng.choice(["a", "b", "c", "d"], ROWS, p=[0.4, 0.3, 0.2, 0.1])
        cols["target"] = rng.integers(0, 2, ROWS)
        return pd.DataFrame(cols)

    ref, cur = frame(False), frame(True)
    return ref, cur.drop(columns=["target"]).assign(prediction=cur["target"].to_numpy())


def scipy_loop(ref: pd.DataFrame, cur: pd.DataFrame) -> list[str]:
    drifted = []
    for col in ref.columns:
        if col == "target":
            continue
        if col.startswith("x"):
            p = stats.ks_2samp(ref[col], cur[col]).pvalue
            d = stats.wasserstein_distance(ref[col], cur[col]) / max(float(ref[col].std()), 1e-12)
            if d >= 0.1:  # Evidently's default for > 1,000 reference rows (normed Wasserstein)
                drifted.append(col)
            _ = p
        else:
            cats = sorted(set(ref[col]) | set(cur[col]))
            f_ref = ref[col].value_counts().reindex(cats, fill_value=0).to_numpy()
            f_cur = cur[col].value_counts().reindex(cats, fill_value=0).to_numpy()
            if stats.chi2_contingency(np.vstack([f_ref, f_cur]))[1] < 0.05:
                drifted.append(col)
    return drifted


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ref, cur = data()
    spec = DriftSpec(min_rows=1)
    variants: dict[str, Callable[[], Any]] = {
        "evidently_job": lambda: run_drift(ref, cur, spec, target="target"),
        "evidently_no_report": lambda: run_drift(ref, cur, spec, target="target", report=False),
        "scipy_loop": lambda: scipy_loop(ref, cur),
    }
    variants["evidently_no_report"]()  # warm-up: imports
    times: dict[str, list[float]] = {k: [] for k in variants}
    outputs: dict[str, Any] = {}
    for _ in range(max(3, args.rounds)):
        for name, fn in variants.items():  # interleaved: drift of the machine hits every variant
            t, outputs[name] = timed(fn)
            times[name].append(t)
    med = {k: statistics.median(v) for k, v in times.items()}
    job = outputs["evidently_job"]
    print(json.dumps({
        "bench": "drift",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "window": {"rows": ROWS, "columns": NUMERIC + CATEGORICAL, "reference_rows": ROWS,
                   "shifted": list(SHIFTED)},
        "rounds": len(times["scipy_loop"]),
        "seconds": {k: {"median": round(med[k], 4), "min": round(min(v), 4), "max": round(max(v), 4)}
                    for k, v in times.items()},
        "ratio_job_vs_scipy": round(med["evidently_job"] / med["scipy_loop"], 2),
        "ratio_no_report_vs_scipy": round(med["evidently_no_report"] / med["scipy_loop"], 2),
        "target_ratio": 10.0,
        "within_target": med["evidently_job"] / med["scipy_loop"] <= 10.0,
        "drifted": {"evidently": [c.column for c in job.drifted], "scipy": sorted(outputs["scipy_loop"])},
        "methods": sorted({c.method for c in job.columns if c.method}),
        "report_html_bytes": len(job.report_html),
    }, indent=2))


if __name__ == "__main__":
    main()
