from __future__ import annotations

from datetime import timedelta

from glasswatch.alerting.escalation import Escalator, escalation_stage
from glasswatch.alerting.notify.base import Notification
from glasswatch.schemas.alert import Severity
from glasswatch.testing.routing import T0, alert, resolved

M = timedelta(minutes=1)


def told(esc: Escalator, *alerts: object, at: object = T0) -> None:
    stage = escalation_stage(esc)
    stage(Notification(receiver="slack", group_key="g", alerts=tuple(alerts)), at)  # type: ignore[arg-type]


def test_warning_escalates_once_after_n_minutes() -> None:
    esc, a = Escalator(after=15 * M), alert()
    told(esc, a)
    told(esc, a, at=T0 + 10 * M)  # seen again: the clock does not restart
    assert esc.next_due_at() == T0 + 15 * M
    assert esc.due(T0 + 14 * M) == []
    (up,) = esc.due(T0 + 15 * M)
    assert up.severity is Severity.CRITICAL
    assert up.labels["severity"] == "critical"
    assert up.fingerprint == a.fingerprint
    assert up.starts_at == a.starts_at
    assert esc.due(T0 + 60 * M) == []
    # later states of the condition stay critical, including the resolve
    assert esc.apply(a).severity is Severity.CRITICAL
    assert esc.apply(resolved(a)).severity is Severity.CRITICAL
    assert esc.apply(a).severity is Severity.WARNING  # resolved: forgotten


def test_acknowledged_or_resolved_do_not_escalate() -> None:
    esc = Escalator(after=15 * M)
    a, b = alert("feature:a"), alert("feature:b")
    told(esc, a, b)
    esc.acknowledge(a.fingerprint)
    told(esc, resolved(b), at=T0 + 5 * M)
    assert esc.due(T0 + 30 * M) == []
    assert esc.next_due_at() is None


def test_critical_and_info_are_left_alone() -> None:
    esc = Escalator(after=M)
    told(esc, alert(severity=Severity.CRITICAL), alert("x", severity=Severity.INFO))
    assert esc.due(T0 + 10 * M) == []
