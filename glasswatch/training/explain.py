"""Global explanations of a trained scaler + linear classifier: importance and SHAP summary.

Decisions
---------
* SHAP values come from ``shap.LinearExplainer`` on the *scaled* features, in log-odds units,
  with the explained sample (at most ``sample`` rows, drawn with the run's seed) as background.
  It is exact and deterministic for linear models and takes milliseconds; a model-agnostic
  explainer would be slower and sampling-dependent.
* The global feature importance is ``|coefficient|`` of the standardised model (comparable
  across features because every feature has unit variance after scaling).
* The plot is a plain matplotlib bar chart (Agg backend) rather than ``shap.summary_plot``:
  fewer moving parts, byte-stable, and skipped quietly when matplotlib is not installed.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["coefficient_importance", "plot_bars", "shap_summary"]


def _split(model: Any) -> tuple[Any, Any]:
    """(every step but the last, linear estimator) of an sklearn Pipeline."""
    return model[:-1], model[-1]


def coefficient_importance(model: Any, features: list[str]) -> dict[str, float]:
    """``|coef|`` per feature, largest first."""
    _, clf = _split(model)
    coef = np.abs(np.asarray(clf.coef_, dtype=float)).reshape(-1)
    pairs = sorted(zip(features, coef.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    return {name: round(value, 10) for name, value in pairs}


def shap_summary(
    model: Any, x: pd.DataFrame, features: list[str], *, sample: int = 200, seed: int = 0
) -> dict[str, float]:
    """Mean ``|SHAP|`` per model feature over a seeded sample of ``x``, largest first.

    ``x`` is what the model takes (it may select ``features`` from more columns).
    """
    with warnings.catch_warnings():
        # shap 0.51 calls matplotlib's soon-deprecated Colormap.set_bad/set_over/set_under at import
        warnings.filterwarnings("ignore", r"The set_\w+ function", PendingDeprecationWarning)
        import shap

    rows = x.sample(n=min(sample, len(x)), random_state=seed) if len(x) > sample else x
    pre, clf = _split(model)
    scaled = np.asarray(pre.transform(rows), dtype=float)
    explainer = shap.LinearExplainer(clf, scaled)
    values = np.asarray(explainer.shap_values(scaled), dtype=float)
    if values.ndim == 3:  # (rows, features, classes) for some shap versions: take class 1
        values = values[..., -1]
    mean_abs = np.abs(values).mean(axis=0)
    pairs = sorted(zip(features, mean_abs.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    return {name: round(value, 10) for name, value in pairs}


def plot_bars(values: Mapping[str, float], path: str | Path, title: str, top: int = 15) -> bool:
    """Horizontal bar chart of the ``top`` values; False when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(values.items())[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#4472c4")
    ax.set_title(title)
    ax.set_xlabel("mean |SHAP value| (log-odds)" if "SHAP" in title else "importance")
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)
    return True
