"""Global explanations of a trained model: importance (impurity, permutation, mean |SHAP|), SHAP summary.

Decisions
---------
* SHAP values come from ``shap.LinearExplainer`` on the *scaled* features, in log-odds units,
  with the explained sample (at most ``sample`` rows, drawn with the run's seed) as background.
  It is exact and deterministic for linear models and takes milliseconds; a model-agnostic
  explainer would be slower and sampling-dependent.
* The global feature importance is ``|coefficient|`` of the standardised model (comparable
  across features because every feature has unit variance after scaling).
* :func:`global_importance` (every estimator) gives impurity importance (forests and boosting),
  permutation importance (ROC AUC drop, ``n_repeats=5``, seeded) and mean |SHAP| per feature
  computed with the *production* explainers (:func:`glasswatch.explain.explainers.explainer_for`:
  tree, or masker over a seeded sample of the reference), so the explain process's window
  profiles are in the same units as this training-time profile. The pipeline logs it as
  ``explain/global_importance.json`` (+ bar PNG) and points the registered version's tag
  :data:`IMPORTANCE_TAG` at it.
* For tree models :func:`shap_summary` uses ``TreeExplainer`` (probability of the positive class
  for forests, log-odds for boosting); linear models keep the ``LinearExplainer`` above.
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

__all__ = ["IMPORTANCE_TAG", "coefficient_importance", "global_importance", "plot_bars", "shap_summary"]

IMPORTANCE_TAG = "glasswatch.explain.importance"
"""Version tag: ``runs:/<run>/explain/global_importance.json`` (read by the explain process)."""


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
    from glasswatch.explain.explainers import explainer_for, is_tree_model

    if is_tree_model(model):
        attributions = explainer_for(model).explain(rows)
        tree_abs = {f: float(np.mean([abs(a.values.get(f, 0.0)) for a in attributions])) for f in features}
        return _ordered(tree_abs)
    pre, clf = _split(model)
    scaled = np.asarray(pre.transform(rows), dtype=float)
    explainer = shap.LinearExplainer(clf, scaled)
    values = np.asarray(explainer.shap_values(scaled), dtype=float)
    if values.ndim == 3:  # (rows, features, classes) for some shap versions: take class 1
        values = values[..., -1]
    mean_abs = np.abs(values).mean(axis=0)
    pairs = sorted(zip(features, mean_abs.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    return {name: round(value, 10) for name, value in pairs}


def _ordered(values: Mapping[str, float]) -> dict[str, float]:
    pairs = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    return {name: round(value, 10) for name, value in pairs}


def global_importance(
    model: Any, x: pd.DataFrame, y: pd.Series, features: list[str], *, background: pd.DataFrame,
    sample: int = 200, masker_sample: int = 50, seed: int = 0,
) -> dict[str, Any]:
    """``{"impurity"?, "permutation", "mean_abs_shap", "explainer", "output", "rows"}`` (see above);
    each importance is ``{feature: value}`` over ``features``, largest first."""
    from sklearn.inspection import permutation_importance

    from glasswatch.explain.explainers import explainer_for

    out: dict[str, Any] = {}
    est = model[-1] if hasattr(model, "steps") else model
    if hasattr(est, "feature_importances_"):
        out["impurity"] = _ordered(dict(zip(features, np.asarray(est.feature_importances_).tolist(),
                                            strict=True)))
    perm = permutation_importance(model, x, y, scoring="roc_auc", n_repeats=5, random_state=seed)
    by_column = dict(zip(x.columns, perm.importances_mean.tolist(), strict=True))
    out["permutation"] = _ordered({f: float(by_column[f]) for f in features})
    explainer = explainer_for(model, background, seed=seed)
    n = sample if explainer.kind == "tree" else masker_sample
    rows = x.sample(n=n, random_state=seed) if len(x) > n else x
    attributions = explainer.explain(rows)
    out["mean_abs_shap"] = _ordered({f: float(np.mean([abs(a.values.get(f, 0.0)) for a in attributions]))
                                     for f in features})
    out.update(explainer=explainer.kind, output=explainer.output, rows=len(rows))
    return out


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
