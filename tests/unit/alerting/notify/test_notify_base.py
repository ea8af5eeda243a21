from __future__ import annotations

import random
from datetime import timedelta

import pytest

from glasswatch.alerting.notify.base import Notification, Notifier, RetryPolicy, run_stages
from glasswatch.testing import FakeNotifier
from glasswatch.testing.routing import T0, alert, resolved


def test_full_jitter_stays_under_the_exponential_ceiling_and_cap() -> None:
    policy = RetryPolicy(initial=1.0, multiplier=2.0, cap=60.0)
    rng = random.Random(1)
    for attempt in range(1, 15):
        for _ in range(50):
            assert 0 <= policy.delay(attempt, rng) <= min(60.0, 2.0 ** (attempt - 1))


def test_retry_after_is_honoured_even_beyond_the_cap() -> None:
    policy = RetryPolicy(cap=5.0)
    assert policy.delay(1, random.Random(0), retry_after=120.0) == 120.0


def test_same_seed_same_delays() -> None:
    policy = RetryPolicy()
    one = [policy.delay(n, r) for r in [random.Random(3)] for n in range(1, 8)]
    two = [policy.delay(n, r) for r in [random.Random(3)] for n in range(1, 8)]
    assert one == two


def test_an_hour_long_outage_is_survived_with_the_default_policy() -> None:
    policy, rng = RetryPolicy(), random.Random(0)
    elapsed, attempt = 0.0, 0
    while elapsed < 3600:
        attempt += 1
        wait = policy.next_delay(attempt=attempt, elapsed=elapsed, rng=rng)
        assert wait is not None, f"gave up after {elapsed:.0f}s"
        elapsed += wait
    assert policy.max_elapsed > 3600


def test_gives_up_past_max_elapsed() -> None:
    policy = RetryPolicy(max_elapsed=10.0)
    assert policy.next_delay(attempt=1, elapsed=9.0, rng=random.Random(0), retry_after=5.0) is None


def test_notification_views_and_stages() -> None:
    a = alert()
    n = Notification(receiver="r", group_key="g", alerts=(a, resolved(alert("x"))))
    assert [x.signal for x in n.firing] == ["feature:age"]
    assert [x.signal for x in n.resolved] == ["x"]
    assert n.with_alerts([]) is None
    seen: list[str] = []

    def first(n: Notification, now: object) -> Notification | None:
        seen.append("first")
        return n.with_alerts(n.firing)

    def drop(n: Notification, now: object) -> Notification | None:
        seen.append("drop")
        return None

    def never(n: Notification, now: object) -> Notification | None:
        raise AssertionError("stages after a drop do not run")

    assert run_stages([first], n, T0) is not None
    assert run_stages([first, drop, never], n, T0 + timedelta(seconds=1)) is None
    assert seen == ["first", "first", "drop"]


def test_fake_notifier_is_a_notifier() -> None:
    assert isinstance(FakeNotifier("x"), Notifier)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        RetryPolicy(initial=0)
