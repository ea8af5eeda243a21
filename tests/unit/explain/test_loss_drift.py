"""Attribution drift on the loss: quiet on a steady concept, fires when the concept moves; the
label join's bounds; the loss-basis alert."""

from __future__ import annotations

import asyncio
from array import array
from concurrent.futures import Executor, Future
from datetime import UTC, datetime, timedelta
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest

from glasswatch.agents.explain_labels import LabelMatches, LossBasis, LossTask, Waiting
from glasswatch.agents.explain_models import ResolvedModel
from glasswatch.explain.alerts import ExplainAlerts, LossWindow
from glasswatch.explain.loss import loss_explainer_for
from glasswatch.explain.loss_drift import LossAttributionDrift, LossProfile
from glasswatch.schemas.alert import AlertKind, AlertStatus
from glasswatch.schemas.events import LabelEvent, PredictionEvent
from glasswatch.schemas.explanation import AttributionWindow


def _frame(rng: np.random.Generator, n: int, on: str = "a") -> tuple[pd.DataFrame, list[int]]:
    x = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    return x, (x[on] + rng.normal(scale=0.5, size=n) > 0).astype(int).tolist()


def _profile(values: list[dict[str, float]]) -> LossProfile:
    p = LossProfile()
    for v in values:
        p.update(v)
    return p


def test_a_steady_concept_stays_quiet_and_a_moved_one_names_the_feature_that_stopped_helping() -> None:
    """LightGBM (the exact tree path, cheap): y depends on ``a``; 40 windows of 40 labelled events
    with the same concept raise nothing; windows whose labels depend on ``b`` (same inputs) do."""
    rng = np.random.default_rng(11)
    x, y = _frame(rng, 2000)
    model = lightgbm.LGBMClassifier(n_estimators=60, learning_rate=0.05, verbose=-1, random_state=0).fit(x, y)
    reference, labels = _frame(rng, 100)
    ex = loss_explainer_for(model, reference)
    training = _profile([a.values for a in ex.explain(reference, labels) if a is not None])
    assert training.mean["a"] < 0 and min(training.mean, key=training.mean.__getitem__) == "a"
    drift = LossAttributionDrift(training)
    for _ in range(40):
        rows, ys = _frame(rng, 40)
        window = _profile([a.values for a in ex.explain(rows, ys) if a is not None])
        assert not drift.update(window).drift_detected, drift.last
    rows, ys = _frame(rng, 100, on="b")
    window = _profile([a.values for a in ex.explain(rows, ys) if a is not None])
    assert drift.update(window).drift_detected
    assert drift.last is not None
    [turned] = drift.last.turned
    assert turned.feature == "a" and turned.training_mean == training.mean["a"]
    assert turned.window_mean > 0.5 * training.mean["a"] and turned.z > 4


def test_the_rule_needs_enough_labels_a_lost_help_and_a_significant_change() -> None:
    training = _profile([{"a": -1.0 + 0.2 * (i % 3), "b": 0.1 * (i % 2)} for i in range(100)])
    detector = LossAttributionDrift(training, min_labelled=30)
    assert detector.update(_profile([{"a": 1.0}] * 29)).last is None  # too few: not judged
    # kept more than half of the help: not turned, however significant
    assert not detector.update(_profile([{"a": -0.6 + 0.01 * (i % 2)} for i in range(200)])).drift_detected
    assert detector.update(_profile([{"a": -0.3 + 0.01 * (i % 2)} for i in range(200)])).drift_detected
    # b never helped (training mean > 0): it is not judged, whatever it does
    steady_a = _profile([{"a": -1.0 + 0.2 * (i % 3), "b": 5.0} for i in range(60)])
    assert not detector.update(steady_a).drift_detected
    # lost its help but too noisily to tell: z below 4
    noisy = _profile([{"a": -0.2 + 8.0 * (-1) ** i} for i in range(40)])
    assert not detector.update(noisy).drift_detected
    # kept_help = 0: only a feature that now hurts counts
    strict = LossAttributionDrift(training, kept_help=0.0)
    assert not strict.update(_profile([{"a": -0.3 + 0.01 * (i % 2)} for i in range(200)])).drift_detected
    assert strict.update(_profile([{"a": 0.3 + 0.01 * (i % 2)} for i in range(200)])).drift_detected
    assert strict.last is not None and strict.last.turned[0].hurts


def test_labels_and_predictions_join_in_either_order_within_bounds() -> None:
    m = LabelMatches(max_entries=2)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    r = ResolvedModel("bc", "1", "/nowhere", ("a",), tree=True)
    assert m.label("bc", "p-1", 1) is None
    joined = m.prediction("bc", Waiting(r, "p-1", t, array("d", [0.5])))
    assert joined is not None and joined.label == 1
    assert m.prediction("bc", Waiting(r, "p-2", t, array("d", [0.1]))) is None
    assert m.label("other-model", "p-2", 0) is None  # joined within the model only
    pair = m.label("bc", "p-2", 0)
    assert pair is not None and pair.prediction.values.tolist() == [0.1]
    for i in range(3, 6):
        m.prediction("bc", Waiting(r, f"p-{i}", t, array("d", [0.0])))
    assert m.evicted == 1 and len(m) == 3  # p-3 pushed out; the early label of other-model stays
    assert m.label("bc", "p-3", 1) is None and m.label("bc", "p-5", 1) is not None


def test_the_loss_basis_alert_is_its_own_condition_next_to_the_output_one() -> None:
    training = _profile([{"a": -1.0 + 0.2 * (i % 3), "b": -0.01 * (i % 2)} for i in range(100)])
    detector = LossAttributionDrift(training)
    alerts = ExplainAlerts()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(minutes=5)
    turned = _profile([{"a": 0.2 + 0.01 * (i % 2), "b": -0.01} for i in range(50)])
    comparison = detector.update(turned).last
    assert comparison is not None
    [fired] = alerts.loss_window(LossWindow("bc", "3", start, end, turned, comparison), detector.thresholds)
    assert (fired.kind, fired.status, fired.signal) == (AlertKind.ATTRIBUTION_DRIFT, AlertStatus.FIRING,
                                                        "loss_attributions")
    assert fired.evidence["basis"] == "loss" and fired.evidence["labelled"] == 50
    assert fired.evidence["turned"][0]["feature"] == "a" and fired.evidence["turned"][0]["hurts"] is True
    assert fired.evidence["turned"][0]["training_mean"] == pytest.approx(training.mean["a"])
    assert fired.labels["model_version"] == "3" and "a" in fired.summary
    again = LossWindow("bc", "3", start, end, turned, comparison)
    assert alerts.loss_window(again, detector.thresholds) == ()  # open already: no second alert
    # the output-profile alert of the same model is another condition (other fingerprint)
    window = AttributionWindow(model="bc", model_version="3", start=start, end=end, explanations=30,
                               mean_abs={"b": 0.5, "a": 0.1}, rank={"b": 1, "a": 2}, rank_correlation=-1.0,
                               distance=1.2, drifted=True)
    [output] = alerts.window(window, {"a": 0.5, "b": 0.1}, {})
    assert output.evidence["basis"] == "output" and output.fingerprint != fired.fingerprint
    clean = _profile([{"a": -1.0 + 0.2 * (i % 3), "b": -0.01} for i in range(50)])
    later = detector.update(clean).last
    assert later is not None and not later.drifted
    [resolved] = alerts.loss_window(LossWindow("bc", "3", end, end + (end - start), clean, later),
                                    detector.thresholds)
    assert resolved.status is AlertStatus.RESOLVED and resolved.fingerprint == fired.fingerprint
    assert "bc" in alerts.drifting  # the output condition is still open


class _StuckPool(Executor):
    """Accepts work and never finishes it (the pool is behind)."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted.append(fn.__name__)
        return Future()


def test_joined_pairs_go_to_the_pool_within_the_budget_once_per_version_profiled() -> None:
    background = pd.DataFrame({"a": [0.0, 1.0]})
    labelled = {v: ResolvedModel("bc", v, f"/m/{v}", ("a",), tree=True, background=background,
                                 background_labels=(0, 1)) for v in ("1", "2")}
    unlabelled = ResolvedModel("bc", "3", "/m/3", ("a",), tree=True, background=background)
    pool = _StuckPool()
    basis = LossBasis(pool=pool, alerter=ExplainAlerts(), window=timedelta(minutes=5), max_awaiting=10)
    t = datetime(2026, 1, 1, tzinfo=UTC)

    def event(i: int, version: str) -> PredictionEvent:
        return PredictionEvent(model="bc", model_version=version, prediction_id=f"p-{i}", event_time=t,
                               features={"a": float(i)})

    async def main() -> list[LossTask]:
        for i, r in enumerate([labelled["1"], labelled["1"], labelled["2"], unlabelled]):
            basis.explained(r, event(i, r.version))
            basis.label(LabelEvent(model="bc", prediction_id=f"p-{i}", event_time=t, label=1), True)
        basis.label(LabelEvent(model="bc", prediction_id="p-9", event_time=t, label=1), False)
        assert basis.ready == 4 and len(basis.matches) == 0  # an unsampled label does not wait
        return basis.tasks(room=1)

    [task] = asyncio.run(main())
    assert [p.prediction.prediction_id for p in task.pairs] == ["p-0", "p-1"]
    assert task.resolved.version == "1" and [p.label for p in task.pairs] == [1, 1]
    # each version's training profile before its first task (version 2's pairs were skipped)
    assert pool.submitted == ["training_loss_profile", "explain_losses", "training_loss_profile"]
    assert (basis.stats.labels, basis.stats.skipped_behind, basis.stats.unprofiled) == (4, 1, 1)
    assert basis.stats.labels_unsampled == 1
    assert basis.ready == 0
