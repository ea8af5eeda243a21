"""The notification seam: what a receiver gets, how it fails, and how we retry.

* :class:`Notification` — the alerts of one aggregation group for one receiver.
* :class:`Notifier` — the Protocol every adapter implements. Its ``name`` is the id its
  deliveries are recorded under: the receiver's name, or a distinct id for a stand-in (the log
  fallback of an unconfigured receiver is ``<receiver>→log``, :data:`FALLBACK_SUFFIX`).
  ``send`` returns on success and raises :class:`~glasswatch.errors.NotifyError` otherwise:
  ``retryable=True`` (429, 5xx, timeouts; ``retry_after`` when the receiver said how long to
  wait) or ``retryable=False`` (bad request, bad token, unknown channel) — Alertmanager's
  ``Notify() (retryable, err)``.
* :class:`Acknowledger` — a notifier that can also tell its receiver that someone acknowledged
  alerts it was sent (PagerDuty ``acknowledge`` event, Slack thread reply). The dispatcher
  queues such a notification (``ack`` set) behind that receiver's earlier ones; the runtime
  calls ``acknowledge`` for it, and treats it as done for a notifier without the method.
* :data:`Stage` — one step of the notification pipeline, a plain callable that returns the
  notification (perhaps with fewer alerts) or ``None`` to drop it. The router runs
  ``inhibit → silence → dedup → escalate`` on each group flush (route and group come before,
  send after), see :func:`run_stages`.
* :class:`RetryPolicy` — exponential backoff with full jitter from a seeded ``random.Random``,
  honouring ``retry_after``, capped, giving up only after ``max_elapsed`` (2 h by default, so an
  hour-long outage loses nothing).

Examples
--------
>>> import random
>>> policy = RetryPolicy(initial=1.0, cap=60.0, max_elapsed=3600.0)
>>> rng = random.Random(7)
>>> [round(policy.delay(n, rng), 2) for n in (1, 2, 3, 10)]
[0.32, 0.3, 2.6, 4.35]
>>> policy.delay(1, rng, retry_after=30.0)
30.0
>>> policy.next_delay(attempt=3, elapsed=3599.0, rng=rng) is None
True
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.schemas.coords import Coord

__all__ = [
    "FALLBACK_SUFFIX",
    "Acknowledger",
    "AlertSource",
    "Notification",
    "Notifier",
    "RetryPolicy",
    "Stage",
    "run_stages",
]


class AlertSource(NamedTuple):
    """The message an alert was read from and the alert's fingerprint: the router commits the
    offset only when the alert is done, and dead-letters a refused alert with its coordinates."""

    coord: Coord
    fingerprint: str


class Notification(BaseModel):
    """The alerts of one aggregation group, for one receiver.

    ``sources`` are the messages first flushed in this notification: the router commits their
    offsets once this notification is delivered, rejected or dropped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    receiver: str
    group_key: str
    group_labels: dict[str, str] = Field(default_factory=dict)
    alerts: tuple[Alert, ...]
    repeat_interval: timedelta = timedelta(hours=4)
    sources: tuple[AlertSource, ...] = ()
    ack: AlertAck | None = None
    """Set on an acknowledgement to tell (``alerts`` are the acknowledged ones), see
    :class:`Acknowledger`; ``None`` for an ordinary notification."""

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status is AlertStatus.FIRING)

    @property
    def resolved(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status is AlertStatus.RESOLVED)

    def with_alerts(self, alerts: Sequence[Alert]) -> Notification | None:
        """The same notification narrowed to ``alerts`` (``None`` when empty)."""
        return self.model_copy(update={"alerts": tuple(alerts)}) if alerts else None


@runtime_checkable
class Notifier(Protocol):
    """A receiver. ``send`` raises ``NotifyError(retryable=..., retry_after=...)`` on failure."""

    name: str

    def send(self, notification: Notification) -> None: ...


@runtime_checkable
class Acknowledger(Protocol):
    """A notifier that can tell its receiver of an acknowledgement (``notification.ack``)."""

    name: str

    def acknowledge(self, notification: Notification) -> None: ...


FALLBACK_SUFFIX = "→log"
"""Appended to a receiver's name for the log notifier standing in for it (its delivery id)."""


Stage = Callable[[Notification, datetime], "Notification | None"]
"""A pipeline step: the notification (maybe narrowed) or ``None`` to drop it."""


def run_stages(stages: Sequence[Stage], notification: Notification, now: datetime) -> Notification | None:
    """Run ``stages`` in order, stopping at the first that drops the notification."""
    current: Notification | None = notification
    for stage in stages:
        if current is None:
            return None
        current = stage(current, now)
    return current


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter (AWS architecture blog), seeded by the caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    initial: float = Field(default=1.0, gt=0)
    """Ceiling of the first delay (seconds)."""
    multiplier: float = Field(default=2.0, ge=1.0)
    cap: float = Field(default=300.0, gt=0)
    """No delay ceiling exceeds this (a server's ``retry_after`` may)."""
    max_elapsed: float = Field(default=7200.0, gt=0)
    """Give up (dead-letter) only when the next try would start later than this after the first."""

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` ≥ 1 tries have failed)."""
        ceiling = min(self.cap, self.initial * self.multiplier ** max(attempt - 1, 0))
        wait = rng.uniform(0.0, ceiling)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, retry_after)
        return wait

    def next_delay(
        self, *, attempt: int, elapsed: float, rng: random.Random, retry_after: float | None = None
    ) -> float | None:
        """Like :meth:`delay`, or ``None`` when waiting would exceed ``max_elapsed``."""
        wait = self.delay(attempt, rng, retry_after)
        return None if elapsed + wait > self.max_elapsed else wait
