"""A task's metrics on a window of labelled predictions, named as MLflow's default evaluators name
them (so that they compare with a registered version's evaluation metrics one to one).

* classification: ``accuracy_score``, ``precision_score``, ``recall_score``, ``f1_score`` (binary
  with the positive class, else macro averages over the classes seen), and when every prediction
  has its probability and the task is binary: ``roc_auc``, ``log_loss`` and
  ``calibration_error`` (expected calibration error over ``bins`` equal-width bins of the
  positive class probability, the bins of scikit-learn's ``calibration_curve``);
* regression: ``mean_absolute_error``, ``root_mean_squared_error``, ``r2_score``.

A metric that is undefined on the window (ROC AUC with one class present, R² of a constant
target) is left out rather than reported as NaN. Each equals scikit-learn's on the same data.

Examples
--------
>>> m = classification_metrics(["1", "0", "1", "0"], ["1", "0", "0", "0"], [0.9, 0.8, 0.6, 0.7], positive="1")
>>> m["accuracy_score"], m["recall_score"], m["roc_auc"]
(0.75, 0.5, 1.0)
>>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])["mean_absolute_error"]
0.6666666666666666
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["GREATER_IS_BETTER", "classification_metrics", "regression_metrics"]

GREATER_IS_BETTER: dict[str, bool] = {
    "accuracy_score": True,
    "precision_score": True,
    "recall_score": True,
    "f1_score": True,
    "roc_auc": True,
    "log_loss": False,
    "calibration_error": False,
    "mean_absolute_error": False,
    "root_mean_squared_error": False,
    "r2_score": True,
}
"""Every metric this module computes, and whether a larger value is better."""


def _prf(actual: np.ndarray, predicted: np.ndarray, cls: str) -> tuple[float, float, float]:
    tp = float(np.sum((predicted == cls) & (actual == cls)))
    n_pred, n_true = float(np.sum(predicted == cls)), float(np.sum(actual == cls))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * tp / (n_pred + n_true) if n_pred + n_true else 0.0
    return precision, recall, f1


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half)."""
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sorted_p = p[order]
    # average ranks of tied scores
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    n_pos = float(np.sum(y))
    n_neg = float(len(y) - n_pos)
    return float((np.sum(ranks[y == 1]) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _ece(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], p)
    gap = np.abs(np.bincount(ids, weights=y, minlength=bins) - np.bincount(ids, weights=p, minlength=bins))
    return float(np.sum(gap) / len(p))


def classification_metrics(
    actual: Sequence[str], predicted: Sequence[str], scores: Sequence[float], *, positive: str, bins: int = 10
) -> dict[str, float]:
    """Metrics of a classifier; ``scores`` are the probabilities of the *predicted* classes."""
    a, p = np.asarray(actual, dtype=object), np.asarray(predicted, dtype=object)
    if len(a) == 0:
        return {}
    out = {"accuracy_score": float(np.mean(a == p))}
    classes = sorted(set(actual) | set(predicted))
    binary = len(classes) <= 2 and positive in classes
    if binary:
        out["precision_score"], out["recall_score"], out["f1_score"] = _prf(a, p, positive)
    else:
        per_class = np.array([_prf(a, p, c) for c in classes])
        out["precision_score"], out["recall_score"], out["f1_score"] = (
            float(v) for v in per_class.mean(axis=0)
        )
    s = np.asarray(scores, dtype=np.float64)
    if binary and not np.isnan(s).any():
        y = (a == positive).astype(np.float64)
        p_pos = np.where(p == positive, s, 1.0 - s)
        if 0 < y.sum() < len(y):
            out["roc_auc"] = _auc(y, p_pos)
        eps = float(np.finfo(np.float64).eps)
        q = np.clip(p_pos, eps, 1 - eps)
        out["log_loss"] = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
        out["calibration_error"] = _ece(y, p_pos, bins)
    return out


def regression_metrics(actual: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """Metrics of a regressor (pairs with a NaN side are not scored)."""
    a, p = np.asarray(actual, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(p))
    a, p = a[keep], p[keep]
    if len(a) == 0:
        return {}
    err = p - a
    out = {
        "mean_absolute_error": float(np.mean(np.abs(err))),
        "root_mean_squared_error": math.sqrt(float(np.mean(err**2))),
    }
    ss_tot = float(np.sum((a - a.mean()) ** 2))
    if ss_tot > 0 and len(a) > 1:
        out["r2_score"] = 1.0 - float(np.sum(err**2)) / ss_tot
    return out
