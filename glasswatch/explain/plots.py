"""SHAP plots of a window's explanations: bar and beeswarm summaries, one event's waterfall,
and the attributions as CSV (what the explain process logs to MLflow per window).

Rendered with shap's own plots on matplotlib's Agg backend (no display), one figure at a time;
callers serialise calls (pyplot is not thread-safe).

Examples
--------
>>> import tempfile, pathlib
>>> rows = [WindowRow("p-1", 0.5, 0.8, {"a": 0.2, "b": 0.1}, {"a": 1.0, "b": 2.0}),
...         WindowRow("p-2", 0.5, 0.3, {"a": -0.1, "b": -0.1}, {"a": 0.0, "b": 1.0})]
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> sorted(p.name for p in window_artifacts(rows, d, waterfall_of="p-1"))
['attributions.csv', 'shap_bar.png', 'shap_beeswarm.png', 'waterfall.png']
>>> (d / "shap_bar.png").read_bytes()[:4], (d / "attributions.csv").read_text().splitlines()[0]
(b'\\x89PNG', 'prediction_id,base_value,model_output,shap.a,shap.b,value.a,value.b')
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glasswatch.explain.explainers import import_shap

__all__ = ["WindowRow", "representative", "window_artifacts"]


@dataclass(frozen=True)
class WindowRow:
    prediction_id: str
    base_value: float
    model_output: float
    attributions: dict[str, float]
    values: dict[str, float]
    """The event's feature values (colour of the beeswarm)."""


def representative(rows: list[WindowRow], feature: str) -> WindowRow:
    """The event leaning most on ``feature`` (largest |SHAP|; first by prediction id on ties)."""
    return min(rows, key=lambda r: (-abs(r.attributions.get(feature, 0.0)), r.prediction_id))


def _explanation(rows: list[WindowRow], features: list[str]) -> Any:
    shap = import_shap()
    return shap.Explanation(
        values=np.array([[r.attributions.get(f, 0.0) for f in features] for r in rows], dtype=float),
        base_values=np.array([r.base_value for r in rows], dtype=float),
        data=np.array([[r.values.get(f, np.nan) for f in features] for r in rows], dtype=float),
        feature_names=features)


def _save(path: Path) -> Path:
    import matplotlib.pyplot as plt

    plt.gcf().savefig(path, dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close("all")
    return path


def window_artifacts(rows: list[WindowRow], directory: Path, *, waterfall_of: str | None = None,
                     max_display: int = 15) -> list[Path]:
    """Write ``attributions.csv``, ``shap_bar.png``, ``shap_beeswarm.png`` (and ``waterfall.png``
    of the event ``waterfall_of``) into ``directory``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    shap = import_shap()
    features = sorted({f for r in rows for f in r.attributions})
    out = [directory / "attributions.csv"]
    with out[0].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prediction_id", "base_value", "model_output",
                         *(f"shap.{f}" for f in features), *(f"value.{f}" for f in features)])
        for r in rows:
            writer.writerow([r.prediction_id, r.base_value, r.model_output,
                             *(r.attributions.get(f, 0.0) for f in features),
                             *(r.values.get(f, "") for f in features)])
    if not rows:
        return out
    ex = _explanation(rows, features)
    shap.plots.bar(ex, max_display=max_display, show=False)
    out.append(_save(directory / "shap_bar.png"))
    shap.plots.beeswarm(ex, max_display=max_display, show=False)
    out.append(_save(directory / "shap_beeswarm.png"))
    chosen = [i for i, r in enumerate(rows) if r.prediction_id == waterfall_of]
    if chosen:
        shap.plots.waterfall(ex[chosen[0]], max_display=max_display, show=False)
        out.append(_save(directory / "waterfall.png"))
    return out
