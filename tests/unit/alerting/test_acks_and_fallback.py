"""Acknowledgements, a log fallback as its own receiver and the restore of firing alerts, through
the dispatcher on a fake clock (the runtime's part: a notification with ``ack`` set goes to the
notifier's ``acknowledge``)."""

from __future__ import annotations

from datetime import timedelta

from glasswatch.alerting.dedup import DeliveryLog
from glasswatch.alerting.dispatcher import Dispatcher, Settled
from glasswatch.alerting.escalation import Escalator
from glasswatch.alerting.notify.base import Acknowledger, Notification
from glasswatch.alerting.notify.build import build_notifiers
from glasswatch.alerting.routes import default_routing, load_routing
from glasswatch.errors import NotifyError
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, Severity
from glasswatch.schemas.coords import Coord
from glasswatch.testing import FakeClock, FakeNotifier
from glasswatch.testing.routing import T0, alert, resolved

CONFIG = load_routing(
    """
receivers:
  - {name: pd, kind: pagerduty, routing_key: {env: PD}}
  - {name: slack, kind: slack, channel: "#ml", token: {env: SLACK}}
  - {name: hook, kind: webhook, url: {env: HOOK}}
route:
  receiver: hook
  group_by: [signal]
  group_wait: 30s
  routes:
    - {matchers: ['severity="critical"'], receiver: pd, continue: true}
    - {matchers: ['severity=~"warning|critical"'], receiver: slack, continue: true}
    - {receiver: hook}
"""
)


class Acking(FakeNotifier):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.acks: list[Notification] = []
        self.log: list[tuple[str, str]] = []  # (action, signal) in order

    def send(self, notification: Notification) -> None:
        super().send(notification)
        self.log += [(a.status.value, a.signal) for a in notification.alerts]

    def acknowledge(self, notification: Notification) -> None:
        self.acks.append(notification)
        self.log += [("ack", a.signal) for a in notification.alerts]


class Runtime:
    """Drives a dispatcher like :class:`~glasswatch.agents.router.RouterRuntime` does."""

    def __init__(self, d: Dispatcher, notifiers: dict[str, FakeNotifier], clock: FakeClock) -> None:
        self.d, self.notifiers, self.clock = d, notifiers, clock
        self.settled: list[Settled] = []
        self.offset = 0

    def publish(self, a: Alert) -> None:
        self.d.ingest(a, self.clock.now(), Coord("alerts", 0, self.offset))
        self.offset += 1

    def run_for(self, seconds: float) -> None:
        end = self.clock.now() + timedelta(seconds=seconds)
        while True:
            for _ in range(100):
                ready = self.d.ready(self.clock.now())
                if not ready:
                    break
                for delivery in ready:
                    n, notifier = delivery.notification, self.notifiers[delivery.notification.receiver]
                    try:
                        if n.ack is None:
                            notifier.send(n)
                        elif isinstance(notifier, Acknowledger):
                            notifier.acknowledge(n)
                    except NotifyError as exc:
                        self.settled.append(self.d.failed(delivery, exc, self.clock.now()))
                    else:
                        self.settled.append(self.d.succeeded(delivery, self.clock.now()))
            if self.clock.now() >= end:
                return
            wake = self.d.next_wakeup()
            gap = 1.0 if wake is None else max((wake - self.clock.now()).total_seconds(), 0.001)
            self.clock.advance(min(gap, (end - self.clock.now()).total_seconds()))

    @property
    def records(self) -> list[object]:
        return [r for s in self.settled for r in s.records]


def fakes() -> dict[str, FakeNotifier]:
    return {"pd": Acking("pd"), "slack": Acking("slack"), "hook": FakeNotifier("hook")}


def ack_of(a: Alert, clock: FakeClock, **kw: object) -> AlertAck:
    return AlertAck(
        fingerprint=a.fingerprint, starts_at=a.starts_at, by="ana", at=clock.now(), note="on it", **kw
    )  # type: ignore[arg-type]


def test_an_ack_stops_escalation_and_is_told_once_to_the_receivers_that_were_paged() -> None:
    clock = FakeClock(T0)
    d = Dispatcher(CONFIG, escalator=Escalator(after=timedelta(minutes=15)), seed=1, alerts_topic="alerts")
    rt = Runtime(d, fakes(), clock)
    warn, other, page = alert("feature:w"), alert("feature:o"), alert("feature:p", severity=Severity.CRITICAL)
    for a in (warn, other, page):
        rt.publish(a)
    rt.run_for(31)
    assert d.acknowledge(ack_of(warn, clock), clock.now())
    assert d.acknowledge(ack_of(page, clock), clock.now())
    rt.run_for(20 * 60)
    pd, slack, hook = (rt.notifiers[n] for n in ("pd", "slack", "hook"))
    assert isinstance(pd, Acking) and isinstance(slack, Acking)
    # the unacknowledged warning escalated to PagerDuty; the acknowledged one did not
    assert pd.log == [("firing", "feature:p"), ("ack", "feature:p"), ("firing", "feature:o")]
    assert sorted(s for act, s in slack.log if act == "ack") == ["feature:p", "feature:w"]
    assert all(n.ack is not None and n.ack.by == "ana" for n in slack.acks)
    assert all(n.ack is None for n in hook.sent)  # no acknowledge method: never handed an ack
    # the same ack again (the acks topic replayed after a restart, with the durable log) tells nobody
    d2 = Dispatcher(CONFIG, log=DeliveryLog(rt.records), seed=2, alerts_topic="alerts")  # type: ignore[arg-type]
    rt2 = Runtime(d2, fakes(), clock)
    rt2.publish(page)
    assert d2.acknowledge(ack_of(page, clock), clock.now())
    rt2.run_for(60)
    assert [n.log for n in rt2.notifiers.values() if isinstance(n, Acking)] == [[], []]
    # the resolve follows the ack
    rt.publish(resolved(page))
    rt.run_for(400)
    assert pd.log[-1] == ("resolved", "feature:p")


def test_an_ack_of_another_episode_changes_nothing() -> None:
    clock = FakeClock(T0)
    d = Dispatcher(CONFIG, escalator=Escalator(after=timedelta(minutes=15)), seed=1, alerts_topic="alerts")
    rt = Runtime(d, fakes(), clock)
    warn = alert("feature:w")
    rt.publish(warn)
    rt.run_for(31)
    old = AlertAck(fingerprint=warn.fingerprint, starts_at=T0 - timedelta(days=1), by="bo", at=clock.now())
    assert not d.acknowledge(old, clock.now())
    assert not d.acknowledge(ack_of(alert("feature:never"), clock), clock.now())
    rt.run_for(16 * 60)
    pd = rt.notifiers["pd"]
    assert isinstance(pd, Acking)
    assert pd.log == [("firing", "feature:w")]  # escalated: nobody had acknowledged this episode


def test_an_ack_before_the_first_delivery_is_told_right_after_it() -> None:
    clock = FakeClock(T0)
    d = Dispatcher(CONFIG, seed=1, alerts_topic="alerts")
    rt = Runtime(d, fakes(), clock)
    page = alert("feature:p", severity=Severity.CRITICAL)
    rt.publish(page)
    assert d.acknowledge(ack_of(page, clock), clock.now())  # still in group_wait
    rt.run_for(31)
    pd = rt.notifiers["pd"]
    assert isinstance(pd, Acking)
    assert pd.log == [("firing", "feature:p"), ("ack", "feature:p")]


def test_a_refused_ack_is_recorded_not_dead_lettered() -> None:
    clock = FakeClock(T0)
    d = Dispatcher(CONFIG, seed=1, alerts_topic="alerts")
    rt = Runtime(d, fakes(), clock)
    page = alert("feature:p", severity=Severity.CRITICAL)
    rt.publish(page)
    rt.run_for(31)
    pd = rt.notifiers["pd"]
    assert isinstance(pd, Acking)

    def refuse(n: Notification) -> None:
        raise NotifyError("pd: HTTP 400", retryable=False)

    pd.acknowledge = refuse  # type: ignore[method-assign]
    d.acknowledge(ack_of(page, clock), clock.now())
    rt.run_for(5)
    assert [dl for s in rt.settled for dl in s.dead_letters] == []
    assert d.log.acknowledged(page, "pd")  # refused for good: not retried forever
    assert d.backlog == 0


def test_the_log_fallback_is_its_own_receiver_and_the_real_one_gets_what_still_fires() -> None:
    notifiers, _ = build_notifiers(default_routing("prod"), {}, env="local")
    assert notifiers["slack"].name == "slack→log"
    assert notifiers["pagerduty"].name == "pagerduty→log"
    assert notifiers["log"].name == "log"

    clock = FakeClock(T0)
    cfg = default_routing("prod")
    d = Dispatcher(cfg, seed=1, alerts_topic="alerts", delivered_as={"slack": "slack→log"})
    rt = Runtime(d, {"slack": FakeNotifier("slack→log"), "log": FakeNotifier("log"),
                     "pagerduty": FakeNotifier("pagerduty")}, clock)
    still, gone = alert("feature:still"), alert("feature:gone")
    rt.publish(still)
    rt.publish(gone)
    rt.run_for(31)
    rt.publish(resolved(gone))
    rt.run_for(400)
    assert {(r.receiver, r.status.value) for r in rt.records} >= {  # type: ignore[attr-defined]
        ("slack→log", "firing"),
        ("slack→log", "resolved"),
    }
    assert not any(r.receiver == "slack" for r in rt.records)  # type: ignore[attr-defined]

    # restart with the Slack token set: the state (firing alerts) and the delivery log come back
    assert d.inhibitor.state is not None
    d2 = Dispatcher(cfg, log=DeliveryLog(rt.records), seed=2, alerts_topic="alerts")  # type: ignore[arg-type]
    assert d2.inhibitor.state is not None
    for key, value in d.inhibitor.state.items():
        d2.inhibitor.state.load(key, value)
    assert d2.restore(clock.now()) == 1
    slack = FakeNotifier("slack")
    others = {"log": FakeNotifier("log"), "pagerduty": FakeNotifier("pagerduty")}
    rt2 = Runtime(d2, {"slack": slack, **others}, clock)
    rt2.run_for(31)
    assert [(a.status.value, a.signal) for a in slack.alerts] == [("firing", "feature:still")]
    assert rt2.notifiers["log"].sent == []  # the log was told already: nothing twice
