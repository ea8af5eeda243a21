"""Performance metrics (equal to scikit-learn's), performance_drop and concept_drift alerts."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from glasswatch.drift.labels import Joined
from glasswatch.drift.metrics import GREATER_IS_BETTER, classification_metrics, regression_metrics
from glasswatch.drift.performance import PerformanceConfig, PerformanceMonitor
from glasswatch.schemas.alert import AlertKind, AlertStatus


def test_binary_metrics_equal_scikit_learns() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    p_pos = np.clip(y * 0.3 + rng.random(2000) * 0.7, 0, 1)
    pred = (p_pos >= 0.5).astype(int)
    score = np.where(pred == 1, p_pos, 1 - p_pos)  # probability of the predicted class
    got = classification_metrics(
        [str(v) for v in y], [str(v) for v in pred], list(score), positive="1", bins=10
    )
    prob_true, prob_pred = calibration_curve(y, p_pos, n_bins=10, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], p_pos), minlength=10)
    ece = float(np.sum(counts[counts > 0] * np.abs(prob_true - prob_pred)) / len(y))
    want = {
        "accuracy_score": skm.accuracy_score(y, pred),
        "precision_score": skm.precision_score(y, pred),
        "recall_score": skm.recall_score(y, pred),
        "f1_score": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, p_pos),
        "log_loss": skm.log_loss(y, p_pos),
        "calibration_error": ece,
    }
    assert got.keys() == want.keys()
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_roc_auc_with_ties_equals_scikit_learns() -> None:
    y = [1, 0, 1, 1, 0, 0, 1, 0]
    p = [0.5, 0.5, 0.9, 0.1, 0.1, 0.5, 0.5, 0.2]
    pred = ["1" if v >= 0.5 else "0" for v in p]
    score = [v if c == "1" else 1 - v for v, c in zip(p, pred, strict=True)]
    got = classification_metrics([str(v) for v in y], pred, score, positive="1")
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))


def test_multiclass_metrics_are_macro_averages_as_scikit_learns() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(["a", "b", "c"], 500)
    pred = np.where(rng.random(500) < 0.7, y, rng.choice(["a", "b", "c"], 500))
    got = classification_metrics(list(y), list(pred), [math.nan] * 500, positive="1")
    assert got["accuracy_score"] == pytest.approx(skm.accuracy_score(y, pred))
    for name, fn in (("precision_score", skm.precision_score), ("recall_score", skm.recall_score),
                     ("f1_score", skm.f1_score)):  # fmt: skip
        assert got[name] == pytest.approx(fn(y, pred, average="macro")), name
    assert "roc_auc" not in got and "log_loss" not in got  # no probabilities: not reported


def test_regression_metrics_equal_scikit_learns() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(size=300)
    p = y + rng.normal(scale=0.3, size=300)
    got = regression_metrics(list(y), list(p))
    assert got["mean_absolute_error"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert got["root_mean_squared_error"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)))
    assert got["r2_score"] == pytest.approx(skm.r2_score(y, p))
    assert set(got) <= set(GREATER_IS_BETTER)


# --- streams whose labels follow one function of the inputs, then another ----------------------
def stream(n: int, *, change_at: int | None, seed: int = 1, noise: float = 0.05) -> list[Joined]:
    """The model predicts sign(x0 + x1) with a calibrated probability; labels follow the same
    function (``noise`` of them flipped) until ``change_at``, then sign(x0 - x1): same inputs."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x0, x1 = rng.normal(size=2)
        p1 = 1 / (1 + math.exp(-4 * (x0 + x1)))
        predicted = int(p1 >= 0.5)
        truth = (x0 + x1 > 0) if change_at is None or i < change_at else (x0 - x1 > 0)
        actual = int(truth) ^ int(rng.random() < noise)
        score = p1 if predicted else 1 - p1
        out.append(Joined("churn", "3", f"p{i}", i * 1000, i * 1000 + 3_600_000, str(predicted), str(actual),
                          score, float(predicted), float(actual)))  # fmt: skip
    return out


REGISTERED = {"accuracy_score": 0.93, "f1_score": 0.93, "roc_auc": 0.97}


def run(pairs: list[Joined], **kwargs: object) -> tuple[PerformanceMonitor, list]:  # type: ignore[type-arg]
    mon = PerformanceMonitor("churn", "3", registered=REGISTERED, config=PerformanceConfig(window=500))
    alerts = []
    for pair in pairs:
        alerts += mon.update(pair, **kwargs).take_alerts()  # type: ignore[arg-type]
    return mon, alerts


def test_a_concept_change_raises_concept_drift_and_performance_drop_with_evidence() -> None:
    mon, alerts = run(stream(6000, change_at=3000), inputs_drifted=False)
    firing = {a.kind: a for a in alerts if a.status is AlertStatus.FIRING}
    assert set(firing) == {AlertKind.CONCEPT_DRIFT, AlertKind.PERFORMANCE_DROP}
    concept, drop = firing[AlertKind.CONCEPT_DRIFT], firing[AlertKind.PERFORMANCE_DROP]
    detected_at = (concept.starts_at.timestamp() * 1000 - 3_600_000) / 1000  # pair index
    assert 3000 <= detected_at <= 3000 + 1000, detected_at
    det = concept.evidence["detector"]
    assert det["name"] == "ADWIN" and det["error_rate"] > det["error_rate_before"]
    assert concept.evidence["inputs_drifted"] == "no" and "inputs did not drift" in concept.summary
    failing = {f["metric"] for f in drop.evidence["failing"]}
    assert "accuracy_score" in failing
    assert drop.evidence["registered"] == REGISTERED and drop.evidence["reference_source"] == "registered"
    assert drop.evidence["metrics"]["accuracy_score"] < REGISTERED["accuracy_score"] - 0.05
    assert drop.lineage.model_version == "3" and drop.labels["model_version"] == "3"
    assert mon.firing == {AlertKind.CONCEPT_DRIFT, AlertKind.PERFORMANCE_DROP}


def test_a_clean_stream_raises_nothing() -> None:
    mon, alerts = run(stream(6000, change_at=None))
    assert alerts == []
    assert mon.windows == 12 and mon.metrics["accuracy_score"] > 0.9


def test_alerts_resolve_when_the_concept_comes_back() -> None:
    pairs = stream(4000, change_at=2000)[:3000] + stream(3000, change_at=None, seed=9)
    _, alerts = run(pairs)
    states = [(a.kind, a.status) for a in alerts]
    for kind in (AlertKind.PERFORMANCE_DROP, AlertKind.CONCEPT_DRIFT):
        assert states.index((kind, AlertStatus.FIRING)) < states.index((kind, AlertStatus.RESOLVED))
    resolved = [a for a in alerts if a.status is AlertStatus.RESOLVED]
    firing = {a.fingerprint: a for a in alerts if a.status is AlertStatus.FIRING}
    assert all(a.starts_at == firing[a.fingerprint].starts_at and a.ends_at for a in resolved)


def test_without_registered_metrics_the_first_window_is_the_reference() -> None:
    mon = PerformanceMonitor("churn", "3", config=PerformanceConfig(window=500))
    alerts = []
    for pair in stream(5000, change_at=2500):
        alerts += mon.update(pair).take_alerts()
    drop = next(a for a in alerts if a.kind is AlertKind.PERFORMANCE_DROP)
    assert drop.evidence["reference_source"] == "first_window"
    assert drop.evidence["inputs_drifted"] == "unknown"
    assert mon.reference == mon.baseline and mon.baseline is not None


def test_same_pairs_same_alerts_and_a_restored_twin_stays_in_lockstep() -> None:
    pairs = stream(5000, change_at=2500)
    _, once = run(pairs)
    mon, first = run(pairs[:2000])
    twin: PerformanceMonitor = pickle.loads(pickle.dumps(mon))
    rest_a = [a for p in pairs[2000:] for a in mon.update(p).take_alerts()]
    rest_b = [a for p in pairs[2000:] for a in twin.update(p).take_alerts()]
    assert [a.id for a in rest_a] == [a.id for a in rest_b] == [a.id for a in once[len(first) :]]
    assert rest_a


def test_regression_task_is_inferred_and_a_changed_relation_is_caught() -> None:
    rng = np.random.default_rng(2)
    mon = PerformanceMonitor("price", "1", registered={"mean_absolute_error": 0.1},
                             config=PerformanceConfig(window=400))  # fmt: skip
    alerts = []
    for i in range(4000):
        x = float(rng.normal())
        y = 2 * x + float(rng.normal(scale=0.1)) if i < 2000 else -x
        alerts += mon.update(
            Joined("price", "1", f"r{i}", i, i, "", "", math.nan, 2 * x + 0.01, y)
        ).take_alerts()
    assert mon.task == "regression"
    assert {a.kind for a in alerts} == {AlertKind.CONCEPT_DRIFT, AlertKind.PERFORMANCE_DROP}


def test_page_hinkley_is_the_other_detector() -> None:
    mon = PerformanceMonitor("churn", "3", config=PerformanceConfig(detector="page_hinkley", window=500))
    alerts = [a for p in stream(5000, change_at=2500) for a in mon.update(p).take_alerts()]
    concept = next(a for a in alerts if a.kind is AlertKind.CONCEPT_DRIFT)
    assert concept.evidence["detector"]["name"] == "PageHinkley"
    assert concept.starts_at.timestamp() * 1000 - 3_600_000 >= 2500 * 1000


def test_update_returns_self_and_config_is_checked() -> None:
    mon = PerformanceMonitor("churn", "3")
    assert mon.update(stream(1, change_at=None)[0]) is mon
    with pytest.raises(ValueError, match="window"):
        PerformanceConfig(window=0)
