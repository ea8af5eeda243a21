"""Rules that raise an alert's severity before routing (never lower it).

The built-in rule: drift on one of the ``top_k`` most important features is critical. The
feature comes from ``labels["feature"]``, ``evidence["feature"]`` or a ``feature:<name>``
signal; its rank (1 = most important) from ``evidence["importance_rank"]`` or
``evidence["feature_importance_ranks"][feature]``. Rules are plain callables
(:data:`SeverityRule`) so more can be added without a class hierarchy; the same rule gives the
same answer for the firing and the resolved state, so both reach the same receivers.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> a = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="m",
...                 signal="feature:age", summary="age drifted", starts_at=t,
...                 evidence={"feature_importance_ranks": {"age": 2, "zip": 9}})
>>> raised = apply_rules([top_feature_drift(3)], a)
>>> raised.severity.value, raised.labels["severity"], raised.labels["severity_raised_by"]
('critical', 'critical', 'top_feature_drift')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from glasswatch.schemas.alert import Alert, AlertKind, Severity

__all__ = ["DRIFT_KINDS", "SeverityRule", "apply_rules", "feature_of", "importance_rank", "top_feature_drift"]

SeverityRule = Callable[[Alert], "tuple[Severity, str] | None"]
"""Return ``(severity, rule name)`` to raise the alert to, or ``None`` to leave it."""

DRIFT_KINDS = frozenset({AlertKind.DATA_DRIFT, AlertKind.DRIFT_DETECTOR, AlertKind.CONCEPT_DRIFT})
_ORDER = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def feature_of(alert: Alert) -> str | None:
    """The feature an alert is about, if any: ``labels["feature"]``, ``evidence["feature"]``
    (what the monitors set), else the name in a ``feature:<name>:<stat>`` signal (split at the
    *last* ``:``; ``feature:<name>`` without a stat when the name holds no ``:``).

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> def on(signal, **kw):
    ...     return Alert.build(kind=AlertKind.FEATURE_DRIFT, severity=Severity.INFO, model="bc",
    ...                        signal=signal, summary="drifted", starts_at=t, **kw)
    >>> [feature_of(on(s)) for s in ("feature:mean radius:drift", "feature:a:b:mean", "feature:age")]
    ['mean radius', 'a:b', 'age']
    >>> feature_of(on("feature:a:b:mean", evidence={"feature": "a:b:mean"}))  # the evidence decides
    'a:b:mean'
    """
    if alert.labels.get("feature"):
        return alert.labels["feature"]
    ev = alert.evidence.get("feature")
    if isinstance(ev, str) and ev:
        return ev
    if alert.signal.startswith("feature:"):
        # ``feature:<name>:<stat>``: the stat holds no ':', the name may (``feature:a:b:drift``)
        name, sep, last = alert.signal.removeprefix("feature:").rpartition(":")
        return (name if sep else last) or None
    return None


def importance_rank(alert: Alert, feature: str) -> int | None:
    """The importance rank of ``feature`` from the evidence (1 is the most important)."""
    rank: Any = alert.evidence.get("importance_rank")
    if rank is None:
        ranks = alert.evidence.get("feature_importance_ranks")
        rank = ranks.get(feature) if isinstance(ranks, dict) else None
    return rank if isinstance(rank, int) and not isinstance(rank, bool) else None


def top_feature_drift(top_k: int = 3) -> SeverityRule:
    """Drift on a feature ranked ``<= top_k`` by importance is critical."""

    def rule(alert: Alert) -> tuple[Severity, str] | None:
        if alert.kind not in DRIFT_KINDS:
            return None
        feature = feature_of(alert)
        rank = importance_rank(alert, feature) if feature else None
        return (Severity.CRITICAL, "top_feature_drift") if rank is not None and rank <= top_k else None

    return rule


def apply_rules(rules: Sequence[SeverityRule], alert: Alert) -> Alert:
    """``alert`` raised to the highest severity any rule asks for (labels kept in step)."""
    best: tuple[Severity, str] | None = None
    for rule in rules:
        got = rule(alert)
        if got and _ORDER[got[0]] > _ORDER[best[0] if best else alert.severity]:
            best = got
    if best is None:
        return alert
    labels = {**alert.labels, "severity": best[0].value, "severity_raised_by": best[1]}
    return alert.model_copy(update={"severity": best[0], "labels": labels})
