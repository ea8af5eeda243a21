"""Pure parts of the pipeline (no MLflow): splits, fitting, hashing, explanations."""

from __future__ import annotations

import json
from pathlib import Path

from glasswatch.training import explain
from glasswatch.training.pipeline import TARGET, TrainConfig, _fit, load_splits, model_hash


def test_splits_are_fixed_stratified_and_disjoint() -> None:
    a, b = load_splits(0), load_splits(0)
    assert {k: len(v) for k, v in a.items()} == {"train": 341, "validation": 114, "reference": 114}
    for name in a:
        assert a[name].equals(b[name])
    rates = {name: df[TARGET].mean() for name, df in a.items()}
    assert max(rates.values()) - min(rates.values()) < 0.02
    assert not load_splits(1)["train"].equals(a["train"])


def test_same_seed_fits_give_the_same_model_hash() -> None:
    splits = load_splits(0)
    cfg = TrainConfig(seed=5)
    features = [c for c in splits["train"].columns if c != TARGET]
    one, two = _fit(splits["train"], features, cfg), _fit(splits["train"], features, cfg)
    assert model_hash(one) == model_hash(two)
    smaller = _fit(splits["train"], features[:3], cfg)
    assert model_hash(smaller) != model_hash(one)
    # the model selects its features itself: it takes the full frame
    x = splits["validation"].drop(columns=[TARGET])
    assert smaller.predict_proba(x).shape == (114, 2)


def test_explanations_rank_features(tmp_path: Path) -> None:
    splits = load_splits(0)
    features = ["worst radius", "mean texture", "symmetry error"]
    model = _fit(splits["train"], features, TrainConfig(estimator="logistic"))
    x = splits["validation"].drop(columns=[TARGET])
    shap_values = explain.shap_summary(model, x, features, sample=50, seed=1)
    assert list(shap_values) == sorted(features, key=lambda f: -shap_values[f])
    assert set(shap_values) == set(features)
    assert all(v >= 0 for v in shap_values.values())
    assert shap_values == explain.shap_summary(model, x, features, sample=50, seed=1)
    importance = explain.coefficient_importance(model, features)
    assert next(iter(importance)) == "worst radius"
    json.dumps(importance)
    png = tmp_path / "s.png"
    assert explain.plot_bars(shap_values, png, "mean |SHAP|")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_every_estimator_fits_and_its_global_importance_names_every_feature() -> None:
    splits = load_splits(0)
    features = ["worst radius", "mean texture", "symmetry error", "worst concave points"]
    x, y = splits["validation"].drop(columns=[TARGET]), splits["validation"][TARGET]
    background = splits["reference"].drop(columns=[TARGET])
    for estimator, kind in (("forest", "tree"), ("gbm", "tree"), ("logistic", "masker")):
        model = _fit(splits["train"], features, TrainConfig(estimator=estimator))
        glob = explain.global_importance(model, x, y, features, background=background, sample=40,
                                         masker_sample=10, seed=3)
        assert glob["explainer"] == kind, estimator
        assert set(glob["mean_abs_shap"]) == set(features) == set(glob["permutation"])
        assert ("impurity" in glob) is (estimator != "logistic")
        # the model relies on the strong features, not on symmetry error
        assert list(glob["mean_abs_shap"])[-1] == "symmetry error", (estimator, glob["mean_abs_shap"])
        json.dumps(glob)


def test_unknown_estimator_is_a_config_error() -> None:
    import pytest

    from glasswatch.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown estimator"):
        _fit(load_splits(0)["train"], ["worst radius"], TrainConfig(estimator="svm"))
