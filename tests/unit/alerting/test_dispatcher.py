"""The dispatcher end to end with a controlled clock and fake notifiers (no network, no sleeping)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from glasswatch.alerting.dedup import DeliveryLog, Outcome
from glasswatch.alerting.dispatcher import Dispatcher, Settled
from glasswatch.alerting.escalation import Escalator
from glasswatch.alerting.notify.base import Notifier, RetryPolicy
from glasswatch.alerting.notify.redaction import Redactor
from glasswatch.alerting.routes import default_routing, load_routing
from glasswatch.alerting.silence import Silence
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import Alert, AlertKind, Severity
from glasswatch.schemas.coords import Coord
from glasswatch.testing import FakeClock, FakeNotifier
from glasswatch.testing.routing import T0, alert, resolved

CONFIG = load_routing(
    """
receivers:
  - {name: pd, kind: pagerduty, routing_key: {env: PD}}
  - {name: slack, kind: slack, channel: "#ml", token: {env: SLACK}}
  - {name: log, kind: log}
route:
  receiver: log
  group_by: [model, signal]
  group_wait: 30s
  routes:
    - {matchers: ['severity="critical"'], receiver: pd, continue: true}
    - {matchers: ['severity=~"warning|critical"'], receiver: slack, continue: true}
    - {receiver: log}
"""
)


class Harness:
    """Drives a dispatcher like the runtime does, with fakes."""

    def __init__(self, dispatcher: Dispatcher | None = None, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock(T0)
        self.d = dispatcher or Dispatcher(CONFIG, seed=1, alerts_topic="alerts")
        self.notifiers: dict[str, FakeNotifier] = {n: FakeNotifier(n) for n in ("pd", "slack", "log")}
        self.offset = 0
        self.settled: list[Settled] = []

    def publish(self, a: Alert) -> Coord:
        ref = Coord("alerts", 0, self.offset)
        self.offset += 1
        self.d.ingest(a, self.clock.now(), ref)
        return ref

    def step(self) -> None:
        for _ in range(100):
            ready = self.d.ready(self.clock.now())
            if not ready:
                return
            for delivery in ready:
                notifier: Notifier = self.notifiers[delivery.notification.receiver]
                try:
                    notifier.send(delivery.notification)
                except NotifyError as exc:
                    self.settled.append(self.d.failed(delivery, exc, self.clock.now()))
                else:
                    self.settled.append(self.d.succeeded(delivery, self.clock.now()))

    def run_for(self, seconds: float, tick: float = 1.0) -> None:
        end = self.clock.monotonic() + seconds
        while self.clock.monotonic() < end:
            self.step()
            wake = self.d.next_wakeup()
            gap = (
                tick if wake is None else max(min((wake - self.clock.now()).total_seconds(), seconds), 0.001)
            )
            self.clock.advance(min(gap, end - self.clock.monotonic()) or 0.001)
        self.step()

    def actions(self, receiver: str) -> list[tuple[str, str]]:
        return [(a.status.value, a.signal) for a in self.notifiers[receiver].alerts]

    @property
    def dead(self) -> list[object]:
        return [dl for s in self.settled for dl in s.dead_letters]


def test_routes_groups_and_commits_only_after_delivery() -> None:
    h = Harness()
    h.publish(alert("feature:a", severity=Severity.CRITICAL))
    h.publish(alert("feature:b"))
    h.step()
    assert h.d.committable() == {("alerts", 0): 0}  # waiting in group_wait: nothing committable
    h.run_for(30)
    assert h.actions("pd") == [("firing", "feature:a")]
    assert sorted(h.actions("slack")) == [("firing", "feature:a"), ("firing", "feature:b")]
    assert len(h.actions("log")) == 2
    assert h.d.committable() == {("alerts", 0): 2}


def test_an_hour_long_outage_loses_nothing_and_duplicates_nothing() -> None:
    h = Harness()
    h.notifiers["pd"].fail_next(10_000)  # "down" until we say otherwise
    sent = [h.publish(alert(f"feature:{i}", severity=Severity.CRITICAL)) for i in range(5)]
    h.run_for(30)
    assert h.d.committable() == {("alerts", 0): 0}  # slack and log got theirs; pd still owes
    h.run_for(3600)
    assert h.notifiers["pd"].sent == []
    assert h.d.committable() == {("alerts", 0): 0}
    h.notifiers["pd"].recover()  # the outage ends
    h.run_for(600)
    assert sorted(s for _, s in h.actions("pd")) == [f"feature:{i}" for i in range(5)]
    assert h.dead == []
    assert h.d.committable() == {("alerts", 0): len(sent)}
    assert h.notifiers["pd"].attempts > 10  # it kept trying, with backoff, for over an hour


def test_retry_after_is_respected() -> None:
    h = Harness()
    h.notifiers["pd"].fail_next(1, retry_after=120.0)
    h.publish(alert(severity=Severity.CRITICAL))
    h.run_for(30)
    (retry,) = [s for s in h.settled if s.retry_at is not None]
    assert retry.retry_at is not None
    assert retry.retry_at >= h.clock.now() + timedelta(seconds=119)
    h.run_for(119)
    assert h.notifiers["pd"].sent == []
    h.run_for(2)
    assert len(h.notifiers["pd"].sent) == 1


def test_permanent_failure_dead_letters_with_coordinates_and_no_secret() -> None:
    d = Dispatcher(CONFIG, seed=1, alerts_topic="alerts", redact=Redactor(["pd-canary-key"]))
    h = Harness(d)
    h.notifiers["pd"].fail_next(1, retryable=False, message="bad key pd-canary-key")
    ref = h.publish(alert(severity=Severity.CRITICAL))
    h.run_for(30)
    (dead,) = h.dead
    assert dead.reason == "rejected_by_receiver"  # type: ignore[attr-defined]
    assert (dead.source_topic, dead.source_offset) == ("alerts", ref.offset)  # type: ignore[attr-defined]
    assert "pd-canary-key" not in dead.model_dump_json()  # type: ignore[attr-defined]
    assert "receiver pd" in dead.detail  # type: ignore[attr-defined]
    assert h.d.committable() == {("alerts", 0): 1}
    rec = h.d.log.get(alert(severity=Severity.CRITICAL), "pd")
    assert rec is not None
    assert rec.outcome is Outcome.REJECTED


def test_retries_give_up_after_max_elapsed() -> None:
    d = Dispatcher(CONFIG, retry=RetryPolicy(max_elapsed=60.0, cap=10.0), seed=1, alerts_topic="alerts")
    h = Harness(d)
    h.notifiers["pd"].fail_next(10_000)
    h.publish(alert(severity=Severity.CRITICAL))
    h.run_for(200)
    (dead,) = h.dead
    assert "gave up after" in dead.detail  # type: ignore[attr-defined]


def test_trigger_before_resolve_per_dedup_key_even_during_an_outage() -> None:
    h = Harness()
    a = alert(severity=Severity.CRITICAL)
    h.notifiers["pd"].fail_next(5)
    h.publish(a)
    h.run_for(31)
    h.publish(resolved(a))
    h.run_for(900)
    assert h.actions("pd") == [("firing", "feature:age"), ("resolved", "feature:age")]
    assert h.d.committable() == {("alerts", 0): 2}


def test_a_blip_within_group_wait_pages_nobody() -> None:
    h = Harness()
    a = alert(severity=Severity.CRITICAL)
    h.publish(a)
    h.run_for(10)
    h.publish(resolved(a))
    h.run_for(60)
    assert h.notifiers["pd"].sent == []
    assert h.notifiers["slack"].sent == []
    assert h.d.committable() == {("alerts", 0): 2}


def test_restart_with_the_delivery_log_repages_no_one() -> None:
    h = Harness()
    a = alert(severity=Severity.CRITICAL)
    h.publish(a)
    h.run_for(31)
    records = [r for s in h.settled for r in s.records]
    # a new process: same uncommitted alert re-read, log restored from the durable records
    h2 = Harness(Dispatcher(CONFIG, log=DeliveryLog(records), seed=2, alerts_topic="alerts"))
    h2.publish(a)
    h2.run_for(60)
    assert all(n.sent == [] for n in h2.notifiers.values())
    assert h2.d.committable() == {("alerts", 0): 1}
    # and the resolve still reaches the receivers that were paged
    h2.publish(resolved(a))
    h2.run_for(400)
    assert h2.actions("pd") == [("resolved", "feature:age")]


def test_silence_and_inhibition_in_the_pipeline() -> None:
    h = Harness()
    h.d.silences.update(
        Silence.create(
            matchers=['signal="feature:quiet"'],
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
            created_by="t",
            id="s",
        )
    )
    h.publish(alert("schema", kind=AlertKind.SCHEMA_BREAK, severity=Severity.CRITICAL))
    h.publish(alert("feature:age"))
    h.publish(alert("feature:quiet", model="fraud"))
    h.run_for(31)
    assert h.actions("slack") == [("firing", "schema")]
    assert h.d.committable() == {("alerts", 0): 3}


def test_unacknowledged_warning_escalates_to_pagerduty_and_its_resolve_follows() -> None:
    d = Dispatcher(CONFIG, escalator=Escalator(after=timedelta(minutes=15)), seed=1, alerts_topic="alerts")
    h = Harness(d)
    a = alert()
    h.publish(a)
    h.run_for(31)
    assert h.notifiers["pd"].sent == []
    h.run_for(15 * 60 + 31)
    assert h.actions("pd") == [("firing", "feature:age")]
    assert h.notifiers["pd"].alerts[0].labels["escalated"] == "true"
    h.publish(resolved(a))
    h.run_for(400)
    assert h.actions("pd") == [("firing", "feature:age"), ("resolved", "feature:age")]


def test_repeat_interval_renotifies_a_still_firing_alert() -> None:
    h = Harness()
    h.publish(alert())
    h.run_for(31)
    h.run_for(4 * 3600)
    assert len(h.notifiers["slack"].sent) == 2


def test_redelivered_message_is_counted_once() -> None:
    h = Harness()
    a = alert()
    h.d.ingest(a, T0, Coord("alerts", 0, 5))
    h.d.ingest(a, T0, Coord("alerts", 0, 5))
    h.run_for(31)
    assert h.d.committable() == {("alerts", 0): 6}


def test_outcome_for_unknown_delivery_is_an_error() -> None:
    h = Harness()
    h.publish(alert())
    h.clock.advance(30)
    (delivery, *_) = h.d.ready(h.clock.now())
    h.d.succeeded(delivery, h.clock.now())
    with pytest.raises(ValueError, match="not in flight"):
        h.d.succeeded(delivery, h.clock.now())


def test_default_routing_is_usable() -> None:
    d = Dispatcher(default_routing("prod"))
    d.ingest(alert(severity=Severity.INFO), T0)
    assert sorted(x.notification.receiver for x in d.ready(T0 + timedelta(seconds=30))) == ["log"]
