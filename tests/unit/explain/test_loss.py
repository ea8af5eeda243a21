"""Loss explanations: additive on both paths, the label mapped by ``classes_``, unknown skipped."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from glasswatch.explain.loss import LOSS_TOLERANCE, PROB_CLIP, encode_label, loss_explainer_for, row_loss
from glasswatch.training.pipeline import TARGET, TrainConfig, _fit, load_splits

FEATURES = list("abcd")


def _frame(seed: int, n: int) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 4)), columns=FEATURES)
    return x, (x["a"] + rng.normal(scale=0.3, size=n) > 0).astype(int), 2 * x["a"] + rng.normal(size=n)


def _log_loss(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(p, PROB_CLIP, 1 - PROB_CLIP)
    return np.asarray(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


@pytest.mark.parametrize(("model", "kind"), [
    (RandomForestClassifier(n_estimators=20, min_samples_leaf=5, random_state=0), "masker"),
    (lightgbm.LGBMClassifier(n_estimators=50, verbose=-1, random_state=0), "tree"),
])
def test_classifier_loss_is_additive_and_is_the_clipped_log_loss(model: object, kind: str) -> None:
    x, y, _ = _frame(0, 1500)
    model.fit(x, y)  # type: ignore[attr-defined]
    test, y_test, _ = _frame(1, 25)
    ex = loss_explainer_for(model, _frame(2, 100)[0], seed=3)
    assert (ex.kind, ex.loss) == (kind, "log_loss")
    res = ex.explain(test, y_test.tolist())
    own = _log_loss(model.predict_proba(test)[:, 1], y_test.to_numpy())  # type: ignore[attr-defined]
    assert all(a is not None and a.method == kind for a in res)
    for a, loss in zip(res, own, strict=True):
        assert a is not None
        assert a.loss == pytest.approx(loss, abs=1e-12)
        assert abs(a.base_value + sum(a.values.values()) - a.loss) < LOSS_TOLERANCE
        assert set(a.values) == set(FEATURES)
    # the feature the labels depend on helps: the largest (negative) mean contribution
    mean = {f: np.mean([a.values[f] for a in res if a is not None]) for f in FEATURES}
    assert min(mean, key=mean.__getitem__) == "a" and mean["a"] < 0


@pytest.mark.parametrize(("model", "kind"), [
    (RandomForestRegressor(n_estimators=20, min_samples_leaf=5, random_state=0), "masker"),
    (lightgbm.LGBMRegressor(n_estimators=50, verbose=-1, random_state=0), "tree"),
])
def test_regressor_loss_is_the_squared_error(model: object, kind: str) -> None:
    x, _, y = _frame(0, 1500)
    model.fit(x, y)  # type: ignore[attr-defined]
    test, _, y_test = _frame(1, 20)
    ex = loss_explainer_for(model, _frame(2, 100)[0])
    assert (ex.kind, ex.loss) == (kind, "squared_error")
    labels: list[object] = [*y_test.tolist()[:-1], "not a number"]
    res = ex.explain(test, labels)
    assert res[-1] is None  # a regressor's label must be a number
    own = (model.predict(test) - y_test.to_numpy()) ** 2  # type: ignore[attr-defined]
    for a, loss in zip(res[:-1], own[:-1], strict=True):
        assert a is not None and a.method == kind
        assert a.loss == pytest.approx(loss, abs=1e-9)
        assert abs(a.base_value + sum(a.values.values()) - a.loss) < LOSS_TOLERANCE


def test_a_label_the_model_does_not_know_is_skipped_and_text_labels_map_by_classes() -> None:
    x, y, _ = _frame(0, 800)
    named = y.map({0: "no", 1: "yes"})
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, named)
    ex = loss_explainer_for(forest, x.head(50))
    assert ex.classes == ("no", "yes")
    rows = x.tail(3)
    res = ex.explain(rows, ["yes", "maybe", "no"])
    assert res[1] is None and res[0] is not None and res[2] is not None
    p = forest.predict_proba(rows)[:, 1]
    assert res[0].loss == pytest.approx(_log_loss(p[:1], np.array([1.0]))[0])
    assert res[2].loss == pytest.approx(_log_loss(p[2:], np.array([0.0]))[0])
    assert encode_label(np.int64(1), (0, 1)) == 1.0 and encode_label(True, (False, True)) == 1.0
    assert encode_label(float("nan"), None) is None and encode_label(None, (0, 1)) is None


def test_a_row_gets_the_same_values_alone_or_in_a_batch() -> None:
    x, y, _ = _frame(0, 800)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    background = x.head(60)
    rows, labels = x.tail(4), y.tail(4).tolist()
    batch = loss_explainer_for(forest, background, seed=5).explain(rows, labels)
    alone = loss_explainer_for(forest, background, seed=5).explain(rows.iloc[[2]], labels[2:3])
    assert alone[0] == batch[2]
    other = loss_explainer_for(forest, background, seed=6).explain(rows.iloc[[2]], labels[2:3])
    assert other[0] is not None and batch[2] is not None and other[0].values != batch[2].values


def test_a_tree_row_that_fails_the_check_is_explained_by_the_masker() -> None:
    """A LightGBM model sure beyond the clip: shap's unclipped loss is not ours, that row falls
    back to the masker (still additive against the clipped loss); the others stay exact."""
    x, y, _ = _frame(0, 1500)
    y = (x["a"] > 0).astype(int)
    gbm = lightgbm.LGBMClassifier(n_estimators=300, learning_rate=1.0, verbose=-1, random_state=0).fit(x, y)
    raw = gbm.predict(x, raw_score=True)
    sure = int(np.argmax(raw))
    assert raw[sure] > np.log((1 - PROB_CLIP) / PROB_CLIP) + 0.1  # p > 1 - 1e-6: clipped
    edge = int(np.argmin(np.abs(raw)))
    ex = loss_explainer_for(gbm, x.sample(n=100, random_state=0))
    assert ex.kind == "tree"
    wrong, right = ex.explain(x.iloc[[sure, edge]], [0, int(y.iloc[edge])])
    assert wrong is not None and right is not None
    assert (wrong.method, right.method) == ("masker", "tree")
    assert wrong.loss == pytest.approx(-np.log(PROB_CLIP), rel=1e-6)
    for a in (wrong, right):
        assert abs(a.base_value + sum(a.values.values()) - a.loss) < LOSS_TOLERANCE


def test_a_pipeline_is_explained_on_its_input_columns() -> None:
    data = load_splits(0)
    features = ["worst radius", "mean texture", "worst concave points"]
    model = _fit(data["train"], features, TrainConfig(estimator="logistic", seed=1))
    x = data["validation"].drop(columns=[TARGET])
    ex = loss_explainer_for(model, data["reference"].drop(columns=[TARGET]))
    res = ex.explain(x.head(5), data["validation"][TARGET].head(5).tolist())
    for a in res:
        assert a is not None and set(a.values) == set(x.columns)
        assert all(a.values[c] == 0.0 for c in x.columns if c not in features)
        assert abs(a.base_value + sum(a.values.values()) - a.loss) < LOSS_TOLERANCE


def test_background_is_required_and_losses_are_as_documented() -> None:
    x, y, _ = _frame(0, 200)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    with pytest.raises(ValueError, match="background"):
        loss_explainer_for(forest, x.head(0))
    assert row_loss(np.array([0.0]), np.array([1.0]), "log_loss")[0] == pytest.approx(-np.log(PROB_CLIP))
    assert row_loss(np.array([3.0]), np.array([1.0]), "squared_error")[0] == 4.0
