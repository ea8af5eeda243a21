"""``glasswatch alerts``: the table and the detail escape what producers wrote and show the ack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from glasswatch.commands.alerts import render_alert, render_alerts
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Severity

T = datetime(2026, 1, 1, tzinfo=UTC)
EVIL = "m\x1b]8;;http://evil\x07click\x1b]8;;\x07\r\n"


def _alert(model: str, signal: str, status: AlertStatus = AlertStatus.FIRING) -> Alert:
    return Alert.build(kind=AlertKind.EVENT_RATE, severity=Severity.WARNING, model=model, signal=signal,
                       summary=f"rate of {model} dropped", starts_at=T, status=status,
                       ends_at=T + timedelta(minutes=5) if status is AlertStatus.RESOLVED else None,
                       evidence={"value": 0.5}, replay_command="glasswatch replay --model x")  # fmt: skip


def test_the_list_is_aligned_escaped_and_shows_acks_of_the_current_episode() -> None:
    firing, other = _alert(EVIL, "events:rate"), _alert("b", "events:gap")
    done = _alert("c", "events:rate", AlertStatus.RESOLVED)
    acks = {
        firing.fingerprint: AlertAck(fingerprint=firing.fingerprint, starts_at=T, by="ana", at=T),
        other.fingerprint: AlertAck(
            fingerprint=other.fingerprint, starts_at=T - timedelta(days=1), by="bo", at=T
        ),
    }
    table = render_alerts([firing, other, done], acks)
    lines = table.splitlines()
    assert "\x1b" not in table and "\r" not in table and len(lines) == 3
    assert (
        len({line.index("SIGNAL") if i == 0 else line.index("events:") for i, line in enumerate(lines)}) == 1
    )
    assert " ana " in lines[1] and " bo " not in lines[2]  # yesterday's ack covers nothing today
    assert len(render_alerts([firing, other, done], acks, show_all=True).splitlines()) == 4


def test_show_has_evidence_lineage_history_and_the_ack() -> None:
    a = _alert(EVIL, "events:rate")
    resolved = _alert(EVIL, "events:rate", AlertStatus.RESOLVED)
    ack = AlertAck(fingerprint=a.fingerprint, starts_at=T, by="ana", at=T, note="on \x1b[2J it")
    text = render_alert([a, resolved], ack)
    assert "\x1b" not in text
    assert "value = 0.5" in text and "replay: glasswatch replay --model x" in text
    assert "acknowledged by ana" in text and "on \\x1b[2J it" in text
    assert text.count("  firing ") + text.count("  resolved") == 2
    assert "not acknowledged" in render_alert([a], None)
