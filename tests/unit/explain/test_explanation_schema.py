"""The explanations topic's contracts and the explain alerts (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema

from glasswatch.commands.schemas import contract_schemas
from glasswatch.explain.alerts import ExplainAlerts
from glasswatch.schemas.alert import AlertKind, AlertStatus
from glasswatch.schemas.explanation import AttributionWindow, Explanation

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_exported_schema_accepts_an_explanation_and_refuses_a_broken_one() -> None:
    schema = contract_schemas()["Explanation"]
    e = Explanation(prediction_id="p", model="bc", model_version="1", event_time=T, explainer="masker",
                    sample_reason="anomaly", base_value=0.1, model_output=0.3, attributions={"a": 0.2})
    doc = e.model_dump(mode="json")
    jsonschema.validate(doc, schema)
    for broken in ({**doc, "explainer": "kernel"}, {k: v for k, v in doc.items() if k != "base_value"}):
        try:
            jsonschema.validate(broken, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted {broken}")


def _window(drifted: bool, corr: float, end: datetime) -> AttributionWindow:
    return AttributionWindow(model="bc", model_version="2", start=end - timedelta(minutes=5), end=end,
                             explanations=40, mean_abs={"b": 0.3, "a": 0.1},
                             mean_signed={"b": -0.2, "a": 0.1},
                             rank={"b": 1, "a": 2}, rank_correlation=corr, distance=0.7, drifted=drifted)


def test_attribution_drift_fires_once_carries_top_features_and_resolves() -> None:
    alerts = ExplainAlerts()
    training = {"a": 0.3, "b": 0.1}
    th = {"min_correlation": 0.5, "max_distance": 0.5}
    [fired] = alerts.window(_window(True, -1.0, T), training, th)
    assert fired.kind is AlertKind.ATTRIBUTION_DRIFT and fired.status is AlertStatus.FIRING
    assert fired.evidence["top_features"][0] == {"feature": "b", "mean_abs_shap": 0.3, "mean_shap": -0.2}
    assert fired.evidence["training_top_features"] == ["a", "b"]
    assert fired.evidence["feature_importance_ranks"] == {"b": 1, "a": 2}
    assert alerts.window(_window(True, -1.0, T + timedelta(minutes=5)), training, th) == ()
    [resolved] = alerts.window(_window(False, 1.0, T + timedelta(minutes=10)), training, th)
    assert resolved.status is AlertStatus.RESOLVED and resolved.fingerprint == fired.fingerprint


def test_model_unavailable_is_raised_once_per_version() -> None:
    alerts = ExplainAlerts()
    [a] = alerts.model_unavailable("bc", "9", "RESOURCE_DOES_NOT_EXIST", T)
    assert a.kind is AlertKind.MODEL_UNAVAILABLE and a.labels["model_version"] == "9"
    assert alerts.model_unavailable("bc", "9", "again", T) == ()
    assert len(alerts.model_unavailable("bc", "10", "other version", T)) == 1
