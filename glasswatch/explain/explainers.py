"""Local SHAP explainers: exact ``TreeExplainer`` for tree ensembles, a masker otherwise.

:func:`explainer_for` looks at the model (a fitted estimator or a scikit-learn ``Pipeline`` whose
last step is the estimator) and returns a :class:`LocalExplainer`:

* ``tree`` — the last step is a scikit-learn forest / boosting / tree, a LightGBM or an XGBoost
  model, and the steps before it map columns one to one (selection, scaling): ``shap.TreeExplainer``
  (``tree_path_dependent``, no background needed) on the transformed rows. Exact; ``base_value +
  sum(attributions)`` equals the model output within 1e-6. The output is what the trees add up
  to: the positive-class probability for scikit-learn forests and trees, the log-odds for
  boosting (``decision_function`` / LightGBM ``raw_score`` / XGBoost ``output_margin``), the
  value for regressors.
* ``masker`` — anything else: ``shap`` 's permutation explainer over an ``Independent`` masker
  built from ``background`` (a seeded sample of the reference data, at most ``max_background``
  rows), explaining the positive-class probability (``predict_proba``) or ``predict``. The
  permutation explainer is additive by construction (each permutation telescopes from "all
  features masked" to "none"): ``base_value + sum`` equals the output within
  :data:`MASKER_TOLERANCE` (float error only). The global RNG is reseeded with ``seed`` before
  every row, so an event gets the same values whatever else is explained with it (replays).

LightGBM models (the scikit-learn API, ``lightgbm.LGBMClassifier`` / ``LGBMRegressor``) are
trees: ``shap.TreeExplainer`` gives the same values as LightGBM's own ``pred_contrib`` (within
float error; ``bench/explain.py`` compares their speed). LightGBM replaces whitespace in feature
names with ``_`` and reports those names as ``feature_names_in_``: fit a bare LightGBM model on
names without whitespace, or put it in a ``Pipeline`` (whose ``feature_names_in_`` keeps the
data's names), else its input columns do not match the events' features.

Attributions are per model input column (``feature_names_in_``): a column the model's pipeline
drops gets 0.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sklearn.ensemble import RandomForestClassifier
>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
>>> forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, x["a"] > 0)
>>> ex = explainer_for(forest)
>>> [a] = ex.explain(x.head(1))
>>> additive = abs(a.base_value + sum(a.values.values()) - a.model_output) < 1e-6
>>> ex.kind, max(a.values, key=lambda k: abs(a.values[k])), additive
('tree', 'a', True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from glasswatch.schemas.explanation import ExplainerKind

__all__ = [
    "DEFAULT_BACKGROUND",
    "MASKER_TOLERANCE",
    "TREE_TOLERANCE",
    "Attribution",
    "LocalExplainer",
    "column_names",
    "explainer_for",
    "import_shap",
    "input_features",
    "is_classifier",
    "is_tree_model",
    "permutation_explainer",
    "positive_output",
    "split_pipeline",
]

TREE_TOLERANCE = 1e-6
MASKER_TOLERANCE = 1e-6
"""The permutation explainer is exactly additive; only float error remains (seen < 1e-12)."""
DEFAULT_BACKGROUND = 100
_TREE_MODULES = ("sklearn.ensemble._forest", "sklearn.ensemble._gb", "sklearn.tree", "lightgbm", "xgboost")
_BOOSTING_MODULES = ("sklearn.ensemble._gb", "lightgbm", "xgboost")


def import_shap() -> Any:
    """``shap``, without the import-time warnings of its matplotlib use."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"The set_\w+ function", PendingDeprecationWarning)
        import shap
    return shap


@dataclass(frozen=True)
class Attribution:
    """One row's explanation: ``base_value + sum(values) ≈ model_output``."""

    base_value: float
    values: dict[str, float]
    model_output: float


def split_pipeline(model: Any) -> tuple[Any | None, Any]:
    """(the steps before the estimator or ``None``, the estimator) of a ``Pipeline`` or a bare model."""
    steps = getattr(model, "steps", None)
    if steps:
        return (model[:-1] if len(steps) > 1 else None), model[-1]
    return None, model


def is_tree_model(model: Any) -> bool:
    """Whether the estimator (a pipeline's last step) is a tree ensemble TreeExplainer takes."""
    _, est = split_pipeline(model)
    return type(est).__module__.startswith(_TREE_MODULES)


def input_features(model: Any, fallback: tuple[str, ...] | None) -> tuple[str, ...]:
    """The model's input columns (``feature_names_in_``, else ``fallback``; ``ValueError``)."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return tuple(str(n) for n in names)
    if fallback:
        return tuple(fallback)
    raise ValueError("the model does not name its input features (fit it on a DataFrame)")


def is_classifier(est: Any) -> bool:
    """Whether the estimator predicts classes (``predict_proba`` or a classifier's type)."""
    return hasattr(est, "predict_proba") or getattr(est, "_estimator_type", None) == "classifier"


def _tree_output(est: Any) -> tuple[str, Callable[[Any], np.ndarray]]:
    module = type(est).__module__
    if not is_classifier(est):
        return "value", lambda x: np.asarray(est.predict(x), dtype=float).reshape(-1)
    if not module.startswith(_BOOSTING_MODULES):
        return "probability", lambda x: np.asarray(est.predict_proba(x), dtype=float)[:, -1]
    if module.startswith("lightgbm"):
        return "log_odds", lambda x: np.asarray(est.predict(x, raw_score=True), dtype=float).reshape(-1)
    if module.startswith("xgboost"):
        return "log_odds", lambda x: np.asarray(est.predict(x, output_margin=True), dtype=float).reshape(-1)
    return "log_odds", lambda x: np.asarray(est.decision_function(x), dtype=float).reshape(-1)


def _last_class(values: Any, base: Any) -> tuple[np.ndarray, float]:
    """SHAP values (rows, features) and base value of the positive class / the single output."""
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 3:
        arr = arr[..., -1]
    b = np.asarray(base, dtype=float).reshape(-1)
    return arr, float(b[-1])


class LocalExplainer:
    """Explains rows (a DataFrame holding at least the model's input columns)."""

    def __init__(self, model: Any, kind: ExplainerKind, features: tuple[str, ...], output: str,
                 explain_fn: Callable[[pd.DataFrame], list[Attribution]]) -> None:
        self.model = model
        self.kind: ExplainerKind = kind
        self.features = features
        self.output = output
        self._explain = explain_fn

    def explain(self, rows: pd.DataFrame) -> list[Attribution]:
        if rows.empty:
            return []
        return self._explain(rows[list(self.features)])


def column_names(pre: Any | None, features: tuple[str, ...]) -> tuple[str, ...] | None:
    """The estimator's input columns behind the pipeline steps ``pre`` (``features`` without
    steps), or ``None`` when the steps do not map columns one to one (attributions would not be
    per input column)."""
    if pre is None:
        return features
    try:
        out = tuple(str(n).split("__", 1)[-1] for n in pre.get_feature_names_out())
    except (AttributeError, ValueError):
        return None
    if len(set(out)) != len(out) or not set(out) <= set(features):
        return None
    return out


def positive_output(model: Any, features: tuple[str, ...], classifier: bool) -> Callable[[Any], np.ndarray]:
    """The model's output per row of a DataFrame or an array of ``features`` columns: the
    positive-class probability (``predict_proba[:, -1]``) of a classifier, else ``predict``."""

    def f(x: Any) -> np.ndarray:
        frame = x if isinstance(x, pd.DataFrame) else pd.DataFrame(x, columns=list(features))
        if classifier:
            return np.asarray(model.predict_proba(frame), dtype=float)[:, -1]
        return np.asarray(model.predict(frame), dtype=float).reshape(-1)

    return f


def permutation_explainer(fn: Callable[[np.ndarray], np.ndarray], background: np.ndarray, *, seed: int,
                          permutations: int) -> Callable[[np.ndarray], tuple[np.ndarray, float]]:
    """shap's permutation explainer of ``fn`` over an ``Independent`` masker of ``background``
    (rows × features), as a function of one row (a 1 × features array) giving (values, base
    value). ``permutations * (2 * features + 1)`` evaluations per row; the global RNG is reseeded
    with ``seed`` before every row (shap draws from it), so a row gets the same values whatever
    was explained before it."""
    shap = import_shap()
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.explainers.Permutation(fn, masker, seed=seed)
    max_evals = permutations * (2 * background.shape[1] + 1)

    def explain_row(row: np.ndarray) -> tuple[np.ndarray, float]:
        np.random.seed(seed)
        e = explainer(row, max_evals=max_evals, silent=True)
        return (np.asarray(e.values, dtype=float).reshape(-1),
                float(np.asarray(e.base_values, dtype=float).reshape(-1)[0]))

    return explain_row


def _tree(model: Any, features: tuple[str, ...]) -> LocalExplainer | None:
    pre, est = split_pipeline(model)
    names = column_names(pre, features)
    if names is None:
        return None
    shap = import_shap()
    tree = shap.TreeExplainer(est)
    output, output_fn = _tree_output(est)

    def explain(rows: pd.DataFrame) -> list[Attribution]:
        x: Any = np.asarray(pre.transform(rows) if pre is not None else rows, dtype=float)
        if pre is None and hasattr(est, "feature_names_in_"):
            x = pd.DataFrame(x, columns=list(names))  # the estimator was fitted on named columns
        with warnings.catch_warnings():  # shap's note that LightGBM binary output is now one array
            warnings.filterwarnings("ignore", "LightGBM binary classifier", UserWarning)
            raw = tree.shap_values(x, check_additivity=False)
        values, base = _last_class(raw, tree.expected_value)
        outputs = output_fn(x)
        res = []
        for i in range(len(x)):
            attr = dict.fromkeys(features, 0.0) | dict(zip(names, values[i].tolist(), strict=True))
            res.append(Attribution(base, attr, float(outputs[i])))
        return res

    return LocalExplainer(model, "tree", features, output, explain)


def _masker(model: Any, features: tuple[str, ...], background: pd.DataFrame, seed: int,
            permutations: int) -> LocalExplainer:
    classifier = hasattr(model, "predict_proba")
    output = "probability" if classifier else "value"
    f = positive_output(model, features, classifier)
    explain_row = permutation_explainer(f, np.asarray(background[list(features)], dtype=float), seed=seed,
                                        permutations=permutations)

    def explain(rows: pd.DataFrame) -> list[Attribution]:
        arr = np.asarray(rows, dtype=float)
        outputs = f(arr)
        res = []
        for i in range(len(arr)):
            values, base = explain_row(arr[i:i + 1])
            attr = dict(zip(features, values.tolist(), strict=True))
            res.append(Attribution(base, attr, float(outputs[i])))
        return res

    return LocalExplainer(model, "masker", features, output, explain)


def explainer_for(
    model: Any,
    background: pd.DataFrame | None = None,
    *,
    features: tuple[str, ...] | None = None,
    seed: int = 0,
    max_background: int = DEFAULT_BACKGROUND,
    permutations: int = 4,
) -> LocalExplainer:
    """The explainer of ``model`` (see the module docstring). ``background`` is needed for the
    masker path only (``ValueError`` without it); it is sampled down to ``max_background`` rows
    with ``seed``."""
    names = input_features(model, features)
    if is_tree_model(model):
        tree = _tree(model, names)
        if tree is not None:
            return tree
    if background is None or background.empty:
        raise ValueError("a non-tree model needs background data (the reference) to be explained")
    if len(background) > max_background:
        background = background.sample(n=max_background, random_state=seed)
    return _masker(model, names, background, seed, permutations)
