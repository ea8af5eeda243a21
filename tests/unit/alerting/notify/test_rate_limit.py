from __future__ import annotations

from glasswatch.alerting.notify.rate_limit import RateLimiter
from glasswatch.testing import FakeClock


def test_spacing_is_per_key_and_only_when_needed() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep)
    limiter.wait("#a")
    limiter.wait("#b")
    assert clock.monotonic() == 0.0
    clock.advance(0.4)
    limiter.wait("#a")
    assert clock.monotonic() == 1.0
    clock.advance(5)
    limiter.wait("#a")
    assert clock.monotonic() == 6.0
