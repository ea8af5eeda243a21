"""The real pagerduty EventsApiV2Client, through our PagerDutyNotifier, against a local Events API v2."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fake_servers import FakePagerDuty, Reply
from pydantic import SecretStr

from glasswatch.alerting.dispatcher import Dispatcher
from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.pagerduty import SUMMARY_LIMIT, PagerDutyNotifier
from glasswatch.alerting.notify.redaction import Redactor
from glasswatch.alerting.routes import load_routing
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import Lineage, Severity
from glasswatch.testing import FakeClock
from glasswatch.testing.routing import T0, Driver, alert, resolved

KEY = "R0UTINGKEYCANARY5c1e9d0a2b7fQZQZ"


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as server:
        yield server  # type: ignore[misc]


def notifier(server: FakePagerDuty, timeout: float = 5.0) -> PagerDutyNotifier:
    return PagerDutyNotifier(
        "pd", routing_key=SecretStr(KEY), base_url=server.url, timeout=timeout, verify=server.ssl_context
    )


def note(*alerts: object) -> Notification:
    return Notification(receiver="pd", group_key="g", alerts=alerts)  # type: ignore[arg-type]


def test_trigger_sends_the_exact_event(pd: FakePagerDuty) -> None:
    a = alert(
        "feature:age",
        severity=Severity.CRITICAL,
        evidence={"psi": 0.4, "plot_url": "http://dash.local/plots/age.png"},
        lineage=Lineage(model_version="7", mlflow_run_id="abc"),
        replay_command="glasswatch replay --from 1 --to 2",
        mlflow_run_url="http://mlflow.local/#/runs/abc",
    )
    notifier(pd).send(note(a))
    (req,) = pd.requests
    assert req.path == "/v2/enqueue"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"].startswith("python-pagerduty/")
    assert req.body == {
        "event_action": "trigger",
        "routing_key": KEY,
        "dedup_key": a.fingerprint,
        "payload": {
            "summary": f"[churn] {a.summary}",
            "source": "glasswatch/churn",
            "severity": "critical",
            "component": "feature:age",
            "group": "churn",
            "class": "data_drift",
            "timestamp": T0.isoformat(),
            "custom_details": {
                "psi": 0.4,
                "plot_url": "http://dash.local/plots/age.png",
                "replay_command": "glasswatch replay --from 1 --to 2",
                "lineage": a.lineage.model_dump(mode="json"),
            },
        },
        "links": [
            {"href": a.links.dashboard, "text": "Dashboard"},
            {"href": "http://127.0.0.1:6066/playbooks/data_drift.md", "text": "Playbook"},
            {"href": "http://mlflow.local/#/runs/abc", "text": "MLflow run"},
        ],
        "images": [{"src": "http://dash.local/plots/age.png", "alt": "feature:age evidence"}],
    }


def test_resolve_uses_the_same_dedup_key_and_order_is_kept(pd: FakePagerDuty) -> None:
    a, b = alert("feature:a"), alert("feature:b")
    n = notifier(pd)
    n.send(note(a, b))
    n.send(note(resolved(a)))
    assert list(pd.events()) == [
        ("trigger", a.fingerprint),
        ("trigger", b.fingerprint),
        ("resolve", a.fingerprint),
    ]
    assert pd.requests[-1].body == {"event_action": "resolve", "dedup_key": a.fingerprint, "routing_key": KEY}
    assert [r.body["payload"]["severity"] for r in pd.requests[:2]] == ["warning", "warning"]


def test_summary_is_cut_to_1024_chars_and_images_only_with_a_plot(pd: FakePagerDuty) -> None:
    a = alert("feature:a", **{}).model_copy(update={"summary": "x" * 5000})
    notifier(pd).send(note(a))
    body = pd.requests[0].body
    assert len(body["payload"]["summary"]) == SUMMARY_LIMIT
    assert "images" not in body


def test_429_is_retryable_with_retry_after_and_the_library_does_not_retry(pd: FakePagerDuty) -> None:
    pd.script(Reply(429, headers={"Retry-After": "12"}))
    with pytest.raises(NotifyError) as info:
        notifier(pd).send(note(alert()))
    assert info.value.retryable
    assert info.value.retry_after == 12.0
    assert len(pd.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable_after_one_request(pd: FakePagerDuty, status: int) -> None:
    pd.script(Reply(status))
    with pytest.raises(NotifyError, match=f"HTTP {status}") as info:
        notifier(pd).send(note(alert()))
    assert info.value.retryable
    assert len(pd.requests) == 1


def test_timeout_is_retryable(pd: FakePagerDuty) -> None:
    pd.script(Reply(202, delay=0.8))
    with pytest.raises(NotifyError, match="network error") as info:
        notifier(pd, timeout=0.3).send(note(alert()))
    assert info.value.retryable
    assert len(pd.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_permanent(pd: FakePagerDuty, status: int) -> None:
    pd.script(Reply(status))
    with pytest.raises(NotifyError, match=f"HTTP {status}") as info:
        notifier(pd).send(note(alert()))
    assert not info.value.retryable


def test_partial_failure_is_resumed_without_resending(pd: FakePagerDuty) -> None:
    a, b = alert("feature:a"), alert("feature:b")
    pd.script(Reply(202), Reply(503))
    n = notifier(pd)
    with pytest.raises(NotifyError):
        n.send(note(a, b))
    n.send(note(a, b))
    assert [k for _, k in pd.events()] == [a.fingerprint, b.fingerprint]
    assert len(pd.requests) == 3


ROUTES = load_routing(
    """
receivers:
  - {name: pd, kind: pagerduty, routing_key: {env: PD_KEY}}
route: {receiver: pd, group_by: [signal], group_wait: 30s, group_interval: 1m}
"""
)


def test_after_an_outage_every_alert_is_paged_exactly_once_in_order(pd: FakePagerDuty) -> None:
    clock = FakeClock(T0)
    outage = [Reply(s) for s in (503, 502, 500, 504) * 8] + [Reply(429, headers={"Retry-After": "60"})]
    pd.script(*outage)
    drv = Driver(Dispatcher(ROUTES, seed=5), {"pd": notifier(pd)}, clock)
    alerts = [alert(f"feature:{i}", severity=Severity.CRITICAL) for i in range(3)]
    for a in alerts:
        drv.publish(a)
    drv.run_for(120)
    for a in alerts:
        drv.publish(resolved(a))  # resolves arrive while the triggers are still failing
    drv.run_for(3 * 3600, until=lambda: len(pd.accepted) == 6)
    events = list(pd.events())
    assert sorted(events) == sorted(
        [("trigger", a.fingerprint) for a in alerts] + [("resolve", a.fingerprint) for a in alerts]
    )
    for a in alerts:  # per dedup key, trigger before resolve
        assert [act for act, k in events if k == a.fingerprint] == ["trigger", "resolve"]
    assert len(pd.requests) == len(outage) + 6
    assert drv.dead_letters == []
    assert drv.d.committable() == {("alerts", 0): 6}


def test_connection_refused_is_retryable() -> None:
    server = FakePagerDuty().start()
    url, ctx = server.url, server.ssl_context
    server.stop()
    n = PagerDutyNotifier("pd", routing_key=SecretStr(KEY), base_url=url, timeout=2, verify=ctx)
    with pytest.raises(NotifyError) as info:
        n.send(note(alert()))
    assert info.value.retryable


def test_canary_routing_key_appears_nowhere(pd: FakePagerDuty, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(T0)
    pd.script(
        Reply(401, body={"status": "unauthorized", "message": f"bad routing key {KEY}"}),
        Reply(400, body={"status": "invalid event", "message": f"routing_key {KEY} is invalid"}),
    )
    n = notifier(pd)
    texts: list[str] = []
    with pytest.raises(NotifyError) as info:
        n.send(note(alert("feature:x")))
    texts += [str(info.value), repr(info.value)]
    drv = Driver(Dispatcher(ROUTES, seed=1, redact=Redactor([KEY])), {"pd": n}, clock)
    drv.publish(alert(severity=Severity.CRITICAL))
    drv.run_for(120)
    assert len(drv.dead_letters) == 1
    assert drv.dead_letters[0].reason == "rejected_by_receiver"
    texts += [dl.model_dump_json() for dl in drv.dead_letters]
    texts += [str(e) for e in drv.errors] + [r.getMessage() for r in caplog.records] + [caplog.text]
    for t in texts:
        assert KEY not in t
        assert KEY[-4:] not in t  # the library likes to print "*" + the last four


@pytest.mark.parametrize(
    "reply", [Reply(429, headers={"Retry-After": "45"}), Reply(504), Reply(202, delay=0.8)]
)
def test_retryable_failures_are_retried_by_the_router_and_paged_once(pd: FakePagerDuty, reply: Reply) -> None:
    clock = FakeClock(T0)
    pd.script(reply)
    drv = Driver(Dispatcher(ROUTES, seed=2), {"pd": notifier(pd, timeout=0.3)}, clock)
    a = alert(severity=Severity.CRITICAL)
    drv.publish(a)
    drv.run_for(30 + 44)
    assert len(pd.requests) == (1 if reply.status == 429 else 2)  # Retry-After: not a second earlier
    drv.run_for(2)
    assert len(pd.requests) == 2
    assert list(pd.events()) == [("trigger", a.fingerprint)]


def test_acknowledge_sends_an_acknowledge_event_with_the_dedup_key_once(pd: FakePagerDuty) -> None:
    from datetime import timedelta

    from glasswatch.schemas.ack import AlertAck

    a = alert(severity=Severity.CRITICAL)
    ack = AlertAck(fingerprint=a.fingerprint, starts_at=a.starts_at, by="ana", at=T0 + timedelta(minutes=1))
    n = notifier(pd)
    n.send(note(a))
    acked = Notification(receiver="pd", group_key=f"ack:{a.fingerprint}", alerts=(a,), ack=ack)
    pd.script(Reply(503))
    with pytest.raises(NotifyError) as info:
        n.acknowledge(acked)
    assert info.value.retryable
    n.acknowledge(acked)
    n.acknowledge(acked)  # a retry of an accepted acknowledgement is not sent again
    assert [r.body["event_action"] for r in pd.requests] == ["trigger", "acknowledge", "acknowledge"]
    event = {"event_action": "acknowledge", "routing_key": KEY, "dedup_key": a.fingerprint}
    assert pd.requests[-1].body == event
    assert list(pd.events()) == [("trigger", a.fingerprint), ("acknowledge", a.fingerprint)]
