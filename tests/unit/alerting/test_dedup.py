from __future__ import annotations

from datetime import timedelta

from glasswatch.alerting.dedup import DeliveryLog, DeliveryRecord, Outcome, dedup_stage
from glasswatch.alerting.notify.base import Notification
from glasswatch.testing.routing import T0, alert, resolved

H = timedelta(hours=1)
REPEAT = 4 * H


def test_firing_once_then_repeat_interval() -> None:
    a, log = alert(), DeliveryLog()
    assert log.needs(a, "slack", T0, REPEAT)
    log.record(a, "slack", T0)
    assert not log.needs(a, "slack", T0 + 3 * H, REPEAT)
    assert log.needs(a, "slack", T0 + 4 * H, REPEAT)
    assert log.needs(a, "pagerduty", T0, REPEAT)  # per receiver


def test_resolve_only_when_firing_was_told() -> None:
    a, log = alert(), DeliveryLog()
    assert not log.needs(resolved(a), "slack", T0, REPEAT)  # came and went unseen
    log.record(a, "slack", T0)
    assert log.needs(resolved(a), "slack", T0, REPEAT)
    log.record(resolved(a), "slack", T0 + H)
    assert not log.needs(resolved(a), "slack", T0 + 2 * H, REPEAT)
    assert not log.needs(a, "slack", T0 + 9 * H, REPEAT)  # a stale firing copy after the resolve


def test_new_episode_is_new() -> None:
    a, log = alert(), DeliveryLog()
    log.record(a, "slack", T0)
    log.record(resolved(a), "slack", T0 + H)
    again = alert(starts_at=T0 + 2 * H)
    assert again.fingerprint == a.fingerprint
    assert log.needs(again, "slack", T0 + 2 * H, REPEAT)


def test_rejected_is_never_retried_and_blocks_resolve() -> None:
    a, log = alert(), DeliveryLog()
    log.record(a, "pd", T0, Outcome.REJECTED)
    assert not log.needs(a, "pd", T0 + 9 * H, REPEAT)
    assert not log.needs(resolved(a), "pd", T0, REPEAT)


def test_records_round_trip_and_latest_wins() -> None:
    a, log = alert(), DeliveryLog()
    early = log.record(a, "slack", T0)
    late = log.record(a, "slack", T0 + 5 * H)
    restored = DeliveryLog([DeliveryRecord.model_validate_json(r.model_dump_json()) for r in (late, early)])
    assert restored.get(a, "slack") == late
    assert early.key == f"slack|{a.fingerprint}|firing"


def test_stage_narrows_and_drops() -> None:
    a, b, log = alert("feature:a"), alert("feature:b"), DeliveryLog()
    log.record(a, "slack", T0)
    stage = dedup_stage(log)
    n = Notification(receiver="slack", group_key="g", alerts=(a, b), repeat_interval=REPEAT)
    out = stage(n, T0)
    assert out is not None
    assert out.alerts == (b,)
    log.record(b, "slack", T0)
    assert stage(n, T0 + H) is None
