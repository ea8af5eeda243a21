from __future__ import annotations

from datetime import timedelta

import pytest

from glasswatch.alerting.mute import mute_stage
from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.silence import Silence, Silences
from glasswatch.testing.routing import T0, alert, resolved

H = timedelta(hours=1)


def silence(*matchers: str, start_h: float = 0, end_h: float = 1, sid: str = "s1") -> Silence:
    return Silence.create(
        matchers=matchers,
        starts_at=T0 + start_h * H,
        ends_at=T0 + end_h * H,
        created_by="ana",
        comment="maintenance",
        id=sid,
    )


def test_window_and_matchers() -> None:
    s = silence('model="churn"', 'signal=~"feature:.*"', start_h=1, end_h=2)
    a = alert()
    assert not s.mutes(a, T0)
    assert s.mutes(a, T0 + 1 * H)
    assert s.mutes(a, T0 + 1.99 * H)
    assert not s.mutes(a, T0 + 2 * H)  # ends_at is exclusive
    assert not s.mutes(alert(model="fraud"), T0 + 1.5 * H)


def test_expire_and_latest_version_wins() -> None:
    silences = Silences([silence('model="churn"')])
    assert silences.mutes(alert(), T0 + 0.5 * H)
    silences.expire("s1", T0 + 0.25 * H)
    assert not silences.mutes(alert(), T0 + 0.5 * H)
    assert silences.get("s1") is not None
    assert silences.get("s1").ends_at == T0 + 0.25 * H
    silences.update(silence('model="churn"', end_h=3))
    assert [s.id for s in silences.active(T0 + 2 * H)] == ["s1"]
    silences.expire("unknown", T0)  # no-op


def test_validation() -> None:
    with pytest.raises(ValueError, match="at least one matcher"):
        silence()
    with pytest.raises(ValueError, match="before starts_at"):
        silence('model="churn"', start_h=2, end_h=1)


def test_stage_mutes_firing_but_lets_owed_resolves_through() -> None:
    a = alert()
    stage = mute_stage(Silences([silence('model="churn"')]))
    n = Notification(receiver="slack", group_key="g", alerts=(a,))
    assert stage(n, T0) is None
    r = Notification(receiver="slack", group_key="g", alerts=(resolved(a),))
    assert stage(r, T0) == r
    assert stage(n, T0 + 2 * H) == n


def test_json_round_trip() -> None:
    s = silence('model="churn"', 'signal=~"feature:.*"')
    assert Silence.model_validate_json(s.model_dump_json()) == s


def _silenced_run(
    silence_from_h: float, resolve_after_h: float, *, delivered_first: bool
) -> dict[str, list[str]]:
    """A critical alert fires (delivered before the silence when ``delivered_first``), a silence on
    its model starts, the alert resolves; what each receiver was told, in order."""
    from glasswatch.alerting.dispatcher import Dispatcher
    from glasswatch.alerting.routes import default_routing
    from glasswatch.schemas.alert import Severity
    from glasswatch.testing import FakeClock, FakeNotifier
    from glasswatch.testing.routing import Driver

    clock = FakeClock(T0)
    d = Dispatcher(default_routing("prod"), seed=1, alerts_topic="alerts")
    notifiers = {n: FakeNotifier(n) for n in ("pagerduty", "slack", "log")}
    drive = Driver(d, notifiers, clock)
    a = alert(severity=Severity.CRITICAL)
    quiet = silence('model="churn"', start_h=silence_from_h, end_h=silence_from_h + 5, sid="q")
    if not delivered_first:
        d.silences.update(quiet)
    drive.publish(a)
    drive.run_for(60)
    d.silences.update(quiet)
    drive.run_for(resolve_after_h * 3600)
    drive.publish(resolved(a))
    drive.run_for(600)
    return {k: [x.status.value for x in n.alerts] for k, n in notifiers.items()}


def test_a_resolve_whose_firing_was_silenced_is_not_sent() -> None:
    told = _silenced_run(0, 0.5, delivered_first=False)
    assert told == {"pagerduty": [], "slack": [], "log": []}


def test_a_resolve_whose_firing_was_delivered_before_the_silence_is_sent() -> None:
    """Otherwise the PagerDuty incident would stay open for ever."""
    told = _silenced_run(1 / 60, 0.5, delivered_first=True)
    assert told["pagerduty"] == ["firing", "resolved"]
    assert told["log"] == ["firing", "resolved"]


def test_a_silenced_repeat_does_not_go_out_but_the_owed_resolve_does() -> None:
    """Delivered, then silenced for longer than repeat_interval (4 h): no repeat, one resolve."""
    told = _silenced_run(1 / 60, 4.5, delivered_first=True)
    assert told["pagerduty"] == ["firing", "resolved"]
    assert told["log"] == ["firing", "resolved"]
