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
