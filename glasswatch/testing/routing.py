"""Small alert factories for the routing tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Severity

__all__ = ["T0", "Driver", "alert", "resolved"]

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def alert(
    signal: str = "feature:age",
    *,
    model: str = "churn",
    kind: AlertKind = AlertKind.DATA_DRIFT,
    severity: Severity = Severity.WARNING,
    starts_at: datetime = T0,
    **kw: Any,
) -> Alert:
    return Alert.build(
        kind=kind,
        severity=severity,
        model=model,
        signal=signal,
        summary=f"{model} {signal} {kind.value}",
        starts_at=starts_at,
        **kw,
    )


def resolved(a: Alert, after: timedelta = timedelta(minutes=10)) -> Alert:
    """The resolved state of ``a`` (same fingerprint and episode)."""
    return Alert.build(
        kind=a.kind,
        severity=a.severity,
        model=a.model,
        signal=a.signal,
        summary=a.summary,
        starts_at=a.starts_at,
        status=AlertStatus.RESOLVED,
        ends_at=a.starts_at + after,
        labels={k: v for k, v in a.labels.items() if k not in ("model", "kind", "severity", "signal")},
        evidence=dict(a.evidence),
        replay_command=a.replay_command,
    )


class Driver:
    """Runs a dispatcher against notifiers like the runtime does, on a fake clock (no sleeping)."""

    def __init__(self, dispatcher: Any, notifiers: dict[str, Any], clock: Any) -> None:
        self.d, self.notifiers, self.clock = dispatcher, notifiers, clock
        self.settled: list[Any] = []
        self.errors: list[BaseException] = []
        self.offset = 0

    def publish(self, a: Alert, topic: str = "alerts") -> None:
        from glasswatch.schemas.coords import Coord

        self.d.ingest(a, self.clock.now(), Coord(topic, 0, self.offset))
        self.offset += 1

    def step(self) -> None:
        from glasswatch.errors import NotifyError

        for _ in range(100):
            ready = self.d.ready(self.clock.now())
            if not ready:
                return
            for delivery in ready:
                try:
                    self.notifiers[delivery.notification.receiver].send(delivery.notification)
                except NotifyError as exc:
                    self.errors.append(exc)
                    self.settled.append(self.d.failed(delivery, exc, self.clock.now()))
                else:
                    self.settled.append(self.d.succeeded(delivery, self.clock.now()))

    def run_for(self, seconds: float, until: Any = None) -> None:
        """Advance the fake clock by ``seconds``, jumping to each wake-up; stop early if ``until()``."""
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end:
            self.step()
            if until is not None and until():
                return
            wake = self.d.next_wakeup()
            gap = 1.0 if wake is None else (wake - self.clock.now()).total_seconds()
            self.clock.advance(max(min(gap, end - self.clock.monotonic()), 0.001))
        self.step()

    @property
    def dead_letters(self) -> list[Any]:
        return [dl for s in self.settled for dl in s.dead_letters]
