"""Public fakes next to the seams, for unit tests that need no network.

* :class:`FakeClock` — time you move by hand: ``now()`` (aware ``datetime``), ``monotonic()``
  and a ``sleep`` that advances instead of waiting.
* :class:`FakeNotifier` — a :class:`~glasswatch.alerting.notify.base.Notifier` that records what it was
  sent and can be told to fail the next N sends, retryably (optionally with ``retry_after``) or
  permanently.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.alerting.notify.base import Notification
>>> from glasswatch.errors import NotifyError
>>> clock = FakeClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> clock.sleep(1.5); clock.monotonic()
1.5
>>> fake = FakeNotifier("pagerduty").fail_next(1, retry_after=30.0)
>>> n = Notification(receiver="pagerduty", group_key="g", alerts=())
>>> try:
...     fake.send(n)
... except NotifyError as exc:
...     print(exc.retryable, exc.retry_after)
True 30.0
>>> fake.send(n); len(fake.sent), fake.attempts
(1, 2)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Self

from glasswatch.alerting.notify.base import Notification
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import Alert

__all__ = ["FakeClock", "FakeNotifier"]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> Self:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._elapsed += seconds
        return self

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))


class FakeNotifier:
    """Records notifications; fails on demand (see the module docstring)."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.sent: list[Notification] = []
        self.attempts = 0
        self._failures: list[NotifyError] = []

    def fail_next(
        self,
        times: int = 1,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> Self:
        """Make the next ``times`` sends raise ``NotifyError(retryable, retry_after)``."""
        text = message or f"{self.name}: " + (
            "temporarily unavailable" if retryable else "rejected the request"
        )
        self._failures += [
            NotifyError(text, retryable=retryable, retry_after=retry_after) for _ in range(times)
        ]
        return self

    def recover(self) -> Self:
        """Forget the failures still queued: the receiver is back."""
        self._failures.clear()
        return self

    def send(self, notification: Notification) -> None:
        self.attempts += 1
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(notification)

    @property
    def alerts(self) -> list[Alert]:
        """Every alert delivered, in order."""
        return [a for n in self.sent for a in n.alerts]
