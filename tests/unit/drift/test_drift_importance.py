"""Drift alerts rank the drifted features by the version's global importance (from the reference
store), and the router's severity rule makes drift on a feature the model relies on critical."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from glasswatch.alerting.severity_rules import apply_rules, top_feature_drift
from glasswatch.drift.alerts import DriftAlerts, DriftOutcome, importance_ranks
from glasswatch.drift.job import DriftResult, run_drift
from glasswatch.drift.reference import InMemoryReferenceStore, Reference
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow
from glasswatch.schemas.alert import Alert, AlertKind, Severity

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IMPORTANCE = {"b": 0.5, "c": 0.3, "d": 0.2, "a": 0.0}  # the model ignores a
RULES = [top_feature_drift(3)]


def _data(shifted: str) -> tuple[pd.DataFrame, DriftResult]:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({c: rng.normal(size=800) for c in "abcd"})
    cur = pd.DataFrame({c: rng.normal(2.0 if c in shifted else 0.0, 1, 800) for c in "abcd"})
    return ref, run_drift(ref, cur, DriftSpec(drift_share=0.25), report=False)


def _store(ref: pd.DataFrame, importance: dict[str, float] | None) -> InMemoryReferenceStore:
    reference = Reference(model="m", version="1", data=ref, uri="memory://ref", sha256="ab" * 32,
                          features=tuple(ref.columns), importance=importance)
    return InMemoryReferenceStore({("m", "1"): reference})


def _alerts(shifted: str, importance: dict[str, float] | None) -> list[Alert]:
    ref, result = _data(shifted)
    reference = _store(ref, importance).resolve("m", "1")
    assert reference is not None
    w = DriftWindow(model="m", model_version="1", offsets=(), start=T0, end=T0 + timedelta(hours=1))
    outcome = DriftOutcome(w, result, reference_sha256=reference.sha256, run_id="r1",
                           importance=reference.importance)
    return [apply_rules(RULES, a) for a in DriftAlerts().update(outcome).alerts]


def test_drift_on_a_feature_the_model_relies_on_is_critical_and_ranked_by_importance() -> None:
    alerts = _alerts("ab", IMPORTANCE)
    [data] = [a for a in alerts if a.kind is AlertKind.DATA_DRIFT]
    assert data.evidence["drifted_features"] == [
        {"feature": "b", "importance": 0.5, "score": 0.5, "importance_rank": 1,
         "strength": data.evidence["drifted_features"][0]["strength"]},
        {"feature": "a", "importance": 0.0, "score": 0.0, "importance_rank": None,
         "strength": data.evidence["drifted_features"][1]["strength"]},
    ]
    assert (data.evidence["feature"], data.evidence["importance_rank"]) == ("b", 1)
    assert data.evidence["feature_importance_ranks"] == {"b": 1, "c": 2, "d": 3}
    assert data.severity is Severity.CRITICAL and data.labels["severity_raised_by"] == "top_feature_drift"
    assert "most important: b (rank 1)" in data.summary
    by_feature = {a.signal: a for a in alerts if a.kind is AlertKind.FEATURE_DRIFT}
    assert by_feature["feature:b:drift"].evidence["importance"] == 0.5
    assert by_feature["feature:b:drift"].evidence["importance_rank"] == 1
    assert by_feature["feature:a:drift"].evidence["importance_rank"] is None


def test_drift_on_a_feature_the_model_ignores_stays_a_warning() -> None:
    alerts = _alerts("a", IMPORTANCE)
    [data] = [a for a in alerts if a.kind is AlertKind.DATA_DRIFT]
    assert [f["feature"] for f in data.evidence["drifted_features"]] == ["a"]
    assert "feature" not in data.evidence and "importance_rank" not in data.evidence
    assert data.severity is Severity.WARNING


def test_a_lower_ranked_feature_stays_a_warning_and_without_importance_nothing_changes() -> None:
    low = {"c": 0.4, "b": 0.3, "d": 0.2, "e": 0.1, "a": 0.05}
    [data] = [a for a in _alerts("a", low) if a.kind is AlertKind.DATA_DRIFT]
    assert (data.evidence["feature"], data.evidence["importance_rank"]) == ("a", 5)
    assert data.severity is Severity.WARNING
    [plain] = [a for a in _alerts("ab", None) if a.kind is AlertKind.DATA_DRIFT]
    assert "drifted_features" not in plain.evidence and "feature" not in plain.evidence
    assert plain.severity is Severity.WARNING
    # the fingerprint does not depend on the importance: a restarted agent (no importance in
    # its replayed runs) recognises the open condition
    [ranked] = [a for a in _alerts("ab", IMPORTANCE) if a.kind is AlertKind.DATA_DRIFT]
    assert ranked.fingerprint == plain.fingerprint


def test_importance_ranks_leave_ignored_features_out() -> None:
    assert importance_ranks({"x": 0.2, "y": 0.2, "z": 0.0, "w": 0.9}) == {"w": 1, "x": 2, "y": 3}
