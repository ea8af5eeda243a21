"""Local explainers on the project's own models: additivity, determinism, sampling, drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glasswatch.explain.attribution_drift import AttributionDrift
from glasswatch.explain.explainers import MASKER_TOLERANCE, TREE_TOLERANCE, explainer_for
from glasswatch.explain.profile import AttributionProfile
from glasswatch.explain.sampling import SampleRates, sample_point, sample_reason
from glasswatch.training.pipeline import TARGET, TrainConfig, _fit, load_splits

FEATURES = ["worst radius", "mean texture", "worst concave points", "mean smoothness", "symmetry error"]


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return load_splits(0)


def _model(data: dict[str, pd.DataFrame], estimator: str, features: list[str] | None = None) -> object:
    return _fit(data["train"], features or FEATURES, TrainConfig(estimator=estimator, seed=1))


@pytest.mark.parametrize(("estimator", "kind", "output"), [
    ("forest", "tree", "probability"), ("gbm", "tree", "log_odds"), ("logistic", "masker", "probability"),
])
def test_base_plus_attributions_is_the_model_output(
    data: dict[str, pd.DataFrame], estimator: str, kind: str, output: str
) -> None:
    model = _model(data, estimator)
    x = data["validation"].drop(columns=[TARGET])
    ex = explainer_for(model, data["reference"].drop(columns=[TARGET]), seed=7)
    assert (ex.kind, ex.output) == (kind, output)
    rows = x.head(15)
    attributions = ex.explain(rows)
    own = (model.predict_proba(rows)[:, 1] if output == "probability"  # type: ignore[attr-defined]
           else model.decision_function(rows))  # type: ignore[attr-defined]
    tolerance = TREE_TOLERANCE if kind == "tree" else MASKER_TOLERANCE
    for a, out in zip(attributions, own, strict=True):
        assert a.model_output == pytest.approx(out, abs=1e-12)
        assert abs(a.base_value + sum(a.values.values()) - a.model_output) < tolerance
        assert set(a.values) == set(x.columns)  # every input column; the unused ones get 0
        assert all(a.values[c] == 0.0 for c in x.columns if c not in FEATURES)
    # the strongest feature of the data drives the explanations, not symmetry error
    mean_abs = {f: np.mean([abs(a.values[f]) for a in attributions]) for f in FEATURES}
    assert max(mean_abs, key=mean_abs.__getitem__) != "symmetry error"


def test_an_event_gets_the_same_values_alone_or_in_a_batch(data: dict[str, pd.DataFrame]) -> None:
    model = _model(data, "logistic")
    background = data["reference"].drop(columns=[TARGET])
    rows = data["validation"].drop(columns=[TARGET]).head(4)
    batch = explainer_for(model, background, seed=3).explain(rows)
    alone = explainer_for(model, background, seed=3).explain(rows.iloc[[2]])
    assert alone[0] == batch[2]
    other_seed = explainer_for(model, background, seed=4).explain(rows.iloc[[2]])
    assert other_seed[0].values != batch[2].values  # the seed matters: it is not ignored


def test_a_non_tree_model_without_background_is_refused(data: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="background"):
        explainer_for(_model(data, "logistic"))


def test_sampling_is_deterministic_and_close_to_the_rate() -> None:
    ids = [f"pred-{i}" for i in range(20_000)]
    chosen = {i for i in ids if sample_reason(i, 0.05)}
    assert chosen == {i for i in reversed(ids) if sample_reason(i, 0.05)}
    assert 0.045 < len(chosen) / len(ids) < 0.055
    assert {i for i in ids if sample_reason(i, 0.10)} >= chosen  # a higher rate keeps every id
    assert sample_reason("x", 0.0, anomalous=True) == "anomaly"
    assert sample_point("pred-1") != sample_point("pred-2")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SampleRates({"m": 1.5})


def _profile(model: object, rows: pd.DataFrame) -> dict[str, float]:
    p = AttributionProfile()
    for a in explainer_for(model).explain(rows):
        p.update(a.values)
    return p.mean_abs


def test_attribution_drift_fires_when_the_ranking_changes_and_not_on_clean_data(
    data: dict[str, pd.DataFrame],
) -> None:
    model = _model(data, "forest")
    training = _profile(model, data["validation"].drop(columns=[TARGET]))
    drift = AttributionDrift(training)
    reference = data["reference"].drop(columns=[TARGET])
    for start in (0, 50):  # two clean windows of 50 explanations
        clean = _profile(model, reference.iloc[start:start + 50])
        assert not drift.update(clean, explanations=50).drift_detected, drift.last
    # the model now leans on what were its weakest used features: the training mean |SHAP| of
    # the five used features handed out in reverse order
    used = [f for f in training if f in FEATURES]
    shifted = dict(zip(used, [training[f] for f in reversed(used)], strict=True))
    assert drift.update(shifted, explanations=50).drift_detected, drift.last
    assert drift.last is not None and drift.last.rank_correlation < 0.5
    assert not drift.update(shifted, explanations=5).drift_detected  # too few to judge


def test_a_lightgbm_model_is_a_tree_and_agrees_with_its_own_pred_contrib() -> None:
    lightgbm = pytest.importorskip("lightgbm")  # a dev dependency (uv.lock)
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(400, 4)), columns=["a", "b", "c", "d"])
    model = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, random_state=0).fit(x, x["a"] + x["b"] > 0)
    ex = explainer_for(model)
    assert (ex.kind, ex.output) == ("tree", "log_odds")
    rows = x.head(20)
    contrib = model.predict(rows, pred_contrib=True)  # per feature, then the expected value
    raw = model.predict(rows, raw_score=True)
    for a, own, out in zip(ex.explain(rows), contrib, raw, strict=True):
        assert [a.values[f] for f in x.columns] == pytest.approx(list(own[:-1]), abs=1e-6)
        assert a.base_value == pytest.approx(own[-1], abs=1e-6)
        assert a.model_output == pytest.approx(out, abs=1e-12)
        assert abs(a.base_value + sum(a.values.values()) - a.model_output) < TREE_TOLERANCE
    assert max(a.values, key=lambda k: abs(a.values[k])) in {"a", "b"}
