"""Loss explanations: each feature's contribution to the model's loss on a labelled event.

SHAP of the model's *output* cannot see a concept change with the same inputs (same rows, same
attributions). Once the label is known, the *loss* can be explained instead (Lundberg et al.
2020, "From local explanations to global understanding with explainable AI for trees", model
monitoring): per feature, how much it raised (> 0) or lowered (< 0) the loss of that event. A
feature the model relies on helps at training time (negative mean contribution) and hurts (the
mean turns positive) once the target has come to depend on something else;
:mod:`glasswatch.explain.loss_drift` turns that into ``attribution_drift``.

The loss (:func:`row_loss`): log loss of the positive-class probability (``predict_proba[:, -1]``,
clipped to ``[PROB_CLIP, 1 - PROB_CLIP]``) for classifiers, the label mapped by the model's
``classes_`` (``classes_[-1]`` → 1, any other class → 0; equal, or equal as text, so ``"1"``
matches ``1``); a label the model does not know is skipped (``None`` in the result, the caller
counts it). Squared error for regressors (a label that is not a number is skipped).

:func:`loss_explainer_for` returns a :class:`LossExplainer` over ``background`` (a seeded sample
of the reference, at most ``max_background`` rows; required on both paths):

* ``tree`` — a tree model whose shap ``TreeExplainer(..., feature_perturbation="interventional",
  model_output="log_loss")`` is exact for our loss: probed on background rows at construction
  (ones whose probability is within [0.01, 0.99], so the clip does not decide; else with their
  likely class) and checked on every row (``base + sum`` within :data:`LOSS_TOLERANCE` of :func:`row_loss`).
  LightGBM (binary log loss on log-odds, L2 regression) passes where shap's copy of its trees
  predicts what LightGBM does (not on the breast-cancer data, where it misses by up to 1e-3:
  masker); scikit-learn forests never do (shap applies a sigmoid to their probabilities, and
  its loss does not clip), nor scikit-learn's gradient boosting (no objective shap knows).
* ``masker`` — everything else, and any row the tree path fails the check on: shap's
  permutation explainer over an ``Independent`` masker on ``g(x) = loss(model(x), y)`` for the
  row's label ``y``. Additive by construction (within float error, :data:`LOSS_TOLERANCE`);
  the global RNG is reseeded with ``seed`` before every row, so a replay gets identical values.

Cost, one core, 100 background rows: the masker path makes ``permutations * (2 * features + 1)``
model calls of ``len(background)`` rows per event — about 18 events/s for the 100-tree,
30-feature forest of ``glasswatch train``, 55/s for a 30-tree 4-feature forest (the output
explanations of the same forest: ~5,000/s); the LightGBM tree path ~300/s (4 features).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sklearn.ensemble import RandomForestClassifier
>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
>>> forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, x["a"] > 0)
>>> ex = loss_explainer_for(forest, x.head(50))
>>> [good, bad, unknown] = ex.explain(x.tail(3), [True, False, "maybe"])
>>> additive = abs(good.base_value + sum(good.values.values()) - good.loss) < LOSS_TOLERANCE
>>> ex.kind, good.method, additive, unknown
('masker', 'masker', True, None)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from glasswatch.explain.explainers import (
    DEFAULT_BACKGROUND,
    column_names,
    import_shap,
    input_features,
    is_classifier,
    is_tree_model,
    permutation_explainer,
    positive_output,
    split_pipeline,
)
from glasswatch.schemas.explanation import ExplainerKind

__all__ = [
    "LOSS_TOLERANCE",
    "PROB_CLIP",
    "LossAttribution",
    "LossExplainer",
    "LossKind",
    "encode_label",
    "loss_explainer_for",
    "row_loss",
]

LOSS_TOLERANCE = 1e-6
"""|base + sum - loss| allowed: the tree path's check (LightGBM is seen within 1e-7); the masker
path is exact up to float error (seen < 1e-12)."""
PROB_CLIP = 1e-6
LossKind = Literal["log_loss", "squared_error"]


@dataclass(frozen=True)
class LossAttribution:
    """One labelled row: ``base_value + sum(values) ≈ loss`` (the expected loss over the
    background with this label, plus each feature's contribution)."""

    base_value: float
    values: dict[str, float]
    loss: float
    method: ExplainerKind


def encode_label(label: object, classes: Sequence[object] | None) -> float | None:
    """The label as the loss sees it: 1.0 / 0.0 for the last class / another class of
    ``classes`` (a classifier), the number itself for a regressor (``classes`` ``None``);
    ``None`` when unknown.

    >>> encode_label("1", [0, 1]), encode_label(0, [0, 1]), encode_label("x", [0, 1]), encode_label(2.5, None)
    (1.0, 0.0, None, 2.5)
    """
    if classes is None:
        ok = isinstance(label, int | float | np.number) and not isinstance(label, bool)
        return float(label) if ok and math.isfinite(float(label)) else None  # type: ignore[arg-type]
    for i, c in enumerate(classes):
        if _same(label, c):
            return 1.0 if i == len(classes) - 1 else 0.0
    return None


def _same(label: object, c: object) -> bool:
    try:
        if bool(label == c):
            return True
    except (TypeError, ValueError):
        pass
    return str(label) == str(c.item() if isinstance(c, np.generic) else c)


def row_loss(output: np.ndarray, y: np.ndarray, kind: LossKind) -> np.ndarray:
    """Per-row loss of ``output`` (positive-class probability / value) against encoded ``y``.

    >>> row_loss(np.array([0.9, 1.0]), np.array([1.0, 1.0]), "log_loss").round(4).tolist()
    [0.1054, 0.0]
    """
    if kind == "squared_error":
        return np.asarray((output - y) ** 2, dtype=float)
    p = np.clip(output, PROB_CLIP, 1.0 - PROB_CLIP)
    return np.asarray(-(y * np.log(p) + (1.0 - y) * np.log1p(-p)), dtype=float)


_Explain = Callable[[pd.DataFrame, np.ndarray], list[LossAttribution | None]]


class LossExplainer:
    """Explains the loss of labelled rows (a DataFrame holding at least the model's inputs)."""

    def __init__(self, model: Any, kind: ExplainerKind, features: tuple[str, ...], loss: LossKind,
                 classes: tuple[object, ...] | None, explain_fn: _Explain) -> None:
        self.model = model
        self.kind: ExplainerKind = kind
        self.features = features
        self.loss: LossKind = loss
        self.classes = classes
        self._explain = explain_fn

    def explain(self, rows: pd.DataFrame, labels: Sequence[object]) -> list[LossAttribution | None]:
        """One result per row, in order; ``None`` where the label is unknown to the model."""
        if len(rows) != len(labels):
            raise ValueError("one label per row")
        encoded = [encode_label(v, self.classes) for v in labels]
        known = [i for i, v in enumerate(encoded) if v is not None]
        out: list[LossAttribution | None] = [None] * len(rows)
        if known:
            y = np.array([encoded[i] for i in known], dtype=float)
            for i, a in zip(known, self._explain(rows[list(self.features)].iloc[known], y), strict=True):
                out[i] = a
        return out


def _masker(model: Any, features: tuple[str, ...], background: pd.DataFrame, loss: LossKind,
            seed: int, permutations: int) -> _Explain:
    out = positive_output(model, features, loss == "log_loss")
    label = [0.0]  # the label of the row being explained (g is one function of x for shap)

    def g(arr: np.ndarray) -> np.ndarray:
        return row_loss(out(arr), np.full(len(arr), label[0]), loss)

    explain_row = permutation_explainer(g, np.asarray(background[list(features)], dtype=float), seed=seed,
                                        permutations=permutations)

    def explain(rows: pd.DataFrame, y: np.ndarray) -> list[LossAttribution | None]:
        arr = np.asarray(rows, dtype=float)
        losses = row_loss(out(arr), y, loss)
        res: list[LossAttribution | None] = []
        for i in range(len(arr)):
            label[0] = float(y[i])
            values, base = explain_row(arr[i:i + 1])
            res.append(LossAttribution(base, dict(zip(features, values.tolist(), strict=True)),
                                       float(losses[i]), "masker"))
        return res

    return explain


def _tree(model: Any, features: tuple[str, ...], background: pd.DataFrame, loss: LossKind,
          fallback: _Explain) -> _Explain | None:
    """The exact interventional tree path, or ``None`` when shap cannot explain this loss."""
    pre, est = split_pipeline(model)
    names = column_names(pre, features)
    if names is None:
        return None
    shap = import_shap()
    out = positive_output(model, features, loss == "log_loss")

    def prepare(rows: pd.DataFrame) -> Any:
        x: Any = np.asarray(pre.transform(rows) if pre is not None else rows, dtype=float)
        return pd.DataFrame(x, columns=list(names)) if hasattr(est, "feature_names_in_") else x

    def shap_loss(rows: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = np.asarray(tree.shap_values(prepare(rows), y, check_additivity=False), dtype=float)
            base = np.array([np.asarray(tree.expected_value(v), dtype=float).reshape(-1)[-1] for v in y])
        return (raw[..., -1] if raw.ndim == 3 else raw), base

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = shap.TreeExplainer(est, data=prepare(background[list(features)]),
                                      feature_perturbation="interventional", model_output="log_loss")
        bg = background[list(features)]
        p_bg = out(bg)
        unclipped = (p_bg > 0.01) & (p_bg < 0.99) if loss == "log_loss" else np.ones(len(bg), dtype=bool)
        probe = (bg[unclipped] if unclipped.any() else bg).head(4)  # rows the clip does not touch
        if loss == "squared_error":
            y_probe = out(probe)[::-1].copy()
        elif unclipped.any():
            y_probe = np.array([float(i % 2) for i in range(len(probe))])
        else:  # a model sure of every background row: its likely class, where the clip moves < 1e-6
            y_probe = (out(probe) > 0.5).astype(float)
        values, base = shap_loss(probe, y_probe)
    except Exception:  # any shap refusal (objective, model type) means: not this path
        return None
    if not np.all(np.abs(base + values.sum(axis=1) - row_loss(out(probe), y_probe, loss)) < LOSS_TOLERANCE):
        return None

    def explain(rows: pd.DataFrame, y: np.ndarray) -> list[LossAttribution | None]:
        values, base = shap_loss(rows, y)
        losses = row_loss(out(rows), y, loss)
        res: list[LossAttribution | None] = []
        for i in range(len(rows)):
            if abs(base[i] + values[i].sum() - losses[i]) >= LOSS_TOLERANCE:  # e.g. a clipped probability
                res.extend(fallback(rows.iloc[[i]], y[i:i + 1]))
                continue
            attr = dict.fromkeys(features, 0.0) | dict(zip(names, values[i].tolist(), strict=True))
            res.append(LossAttribution(float(base[i]), attr, float(losses[i]), "tree"))
        return res

    return explain


def loss_explainer_for(
    model: Any,
    background: pd.DataFrame,
    *,
    features: tuple[str, ...] | None = None,
    seed: int = 0,
    max_background: int = DEFAULT_BACKGROUND,
    permutations: int = 4,
) -> LossExplainer:
    """The loss explainer of ``model`` (see the module docstring); ``ValueError`` without
    background rows."""
    names = input_features(model, features)
    if background is None or background.empty:
        raise ValueError("loss explanations need background data (the reference)")
    if len(background) > max_background:
        background = background.sample(n=max_background, random_state=seed)
    _, est = split_pipeline(model)
    classifier = is_classifier(est)
    loss: LossKind = "log_loss" if classifier else "squared_error"
    classes = (tuple(getattr(est, "classes_", ())) or None) if classifier else None
    if classifier and classes is None:
        raise ValueError("a classifier without classes_ cannot map labels")
    masker = _masker(model, names, background, loss, seed, permutations)
    tree = _tree(model, names, background, loss, masker) if is_tree_model(model) else None
    if tree is not None:
        return LossExplainer(model, "tree", names, loss, classes, tree)
    return LossExplainer(model, "masker", names, loss, classes, masker)
