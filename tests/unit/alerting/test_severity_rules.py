from __future__ import annotations

import pytest

from glasswatch.alerting.severity_rules import apply_rules, feature_of, top_feature_drift
from glasswatch.schemas.alert import AlertKind, Severity
from glasswatch.testing.routing import alert


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"evidence": {"importance_rank": 1}}, Severity.CRITICAL),
        ({"evidence": {"importance_rank": 3}}, Severity.CRITICAL),
        ({"evidence": {"importance_rank": 4}}, Severity.WARNING),
        ({"evidence": {"feature_importance_ranks": {"age": 2}}}, Severity.CRITICAL),
        ({"evidence": {"feature_importance_ranks": {"income": 1}}}, Severity.WARNING),
        ({"evidence": {}}, Severity.WARNING),
        ({"evidence": {"importance_rank": True}}, Severity.WARNING),
        ({"evidence": {"importance_rank": 1}, "kind": AlertKind.MISSING_RATE}, Severity.WARNING),
    ],
)
def test_top_feature_drift(kw: dict[str, object], expected: Severity) -> None:
    a = alert("feature:age", **kw)  # type: ignore[arg-type]
    out = apply_rules([top_feature_drift(3)], a)
    assert out.severity is expected
    assert out.labels["severity"] == expected.value


def test_never_lowers_and_feature_from_labels() -> None:
    crit = alert("feature:age", severity=Severity.CRITICAL, evidence={"importance_rank": 9})
    assert apply_rules([top_feature_drift(3)], crit) is crit
    lab = alert("psi", labels={"feature": "zip"}, evidence={"feature_importance_ranks": {"zip": 1}})
    assert apply_rules([top_feature_drift(3)], lab).severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("signal", "feature"),
    [("feature:mean radius:drift", "mean radius"), ("feature:a:b:mean", "a:b"), ("feature:a:b:drift", "a:b")],
)
def test_a_feature_name_with_spaces_or_colons_is_found_whole(signal: str, feature: str) -> None:
    """Real column names: ``mean radius``, ``a:b``; the signal is split at its last ``:`` only."""
    ranks = {feature: 1, "a": 9, "mean": 9, "b": 9}
    a = alert(signal, kind=AlertKind.DATA_DRIFT, evidence={"feature_importance_ranks": ranks})
    assert feature_of(a) == feature
    assert apply_rules([top_feature_drift(3)], a).severity is Severity.CRITICAL
    low = alert(signal, kind=AlertKind.DATA_DRIFT,
                evidence={"feature_importance_ranks": {**ranks, feature: 7}})
    assert apply_rules([top_feature_drift(3)], low).severity is Severity.WARNING
