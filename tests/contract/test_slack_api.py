"""The real slack_sdk WebClient, through our SlackNotifier, against a local Slack Web API."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fake_servers import FakeSlack, Reply
from pydantic import SecretStr

from glasswatch.alerting.dispatcher import Dispatcher
from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.rate_limit import RateLimiter
from glasswatch.alerting.notify.redaction import Redactor
from glasswatch.alerting.notify.slack.notifier import SlackNotifier
from glasswatch.alerting.routes import load_routing
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import Lineage
from glasswatch.testing import FakeClock, FakeNotifier
from glasswatch.testing.routing import T0, Driver, alert, resolved

TOKEN = "xoxb-CANARY-7f3a9-slack-token"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server  # type: ignore[misc]


def notifier(server: FakeSlack, clock: FakeClock | None = None, timeout: int = 5) -> SlackNotifier:
    clock = clock or FakeClock(T0)
    return SlackNotifier(
        "slack",
        channel="#ml-alerts",
        token=SecretStr(TOKEN),
        base_url=server.api_url,
        timeout=timeout,
        limiter=RateLimiter(1.0, clock=clock.monotonic, sleep=clock.sleep),
    )


def note(*alerts: object, key: str = "g1") -> Notification:
    return Notification(receiver="slack", group_key=key, alerts=alerts)  # type: ignore[arg-type]


def rich_alert() -> object:
    return alert(
        "feature:age",
        evidence={"top_features": [{"feature": "age", "score": 0.42}, "income"], "psi": 0.42},
        lineage=Lineage(model_version="7", mlflow_run_id="abc"),
        replay_command="glasswatch replay --topic glasswatch-events --partition 0 --from 100 --to 200",
        mlflow_run_url="http://mlflow.local/#/runs/abc",
    )


def test_first_message_is_a_block_kit_post_with_exact_fields(slack: FakeSlack) -> None:
    a = rich_alert()
    n = notifier(slack)
    n.send(note(a))
    (req,) = slack.requests
    assert req.path == "/api/chat.postMessage"
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["content-type"].startswith("application/json")
    body = req.body
    assert set(body) == {"channel", "text", "blocks"}
    assert body["channel"] == "#ml-alerts"
    assert body["text"].startswith(":large_orange_circle: [FIRING:1] churn data_drift")
    text = str(body["blocks"])
    for needle in (
        "age (0.42)",
        "income",
        "Model version: 7",
        "/alerts/",
        "|dashboard>",
        "|playbook>",
        "http://mlflow.local/#/runs/abc|MLflow run>",
        "glasswatch replay --topic glasswatch-events",
    ):
        assert needle in text, needle
    assert n.thread_of("g1") == "1700000000.000001"


def test_resolve_is_a_threaded_reply_then_the_parent_is_updated(slack: FakeSlack) -> None:
    a = alert()
    n = notifier(slack)
    n.send(note(a))
    n.send(note(resolved(a)))
    assert [r.path for r in slack.requests] == [
        "/api/chat.postMessage",
        "/api/chat.postMessage",
        "/api/chat.update",
    ]
    reply, update = slack.requests[1].body, slack.requests[2].body
    assert reply["thread_ts"] == "1700000000.000001"
    assert reply["channel"] == "#ml-alerts"
    assert "[RESOLVED:1]" in reply["text"]
    assert update["channel"] == "C0ALERTS"
    assert update["ts"] == "1700000000.000001"
    assert n.thread_of("g1") is None


def test_at_most_one_message_per_second_per_channel(slack: FakeSlack) -> None:
    clock = FakeClock(T0)
    n = notifier(slack, clock)
    n.send(note(alert("feature:a"), key="g1"))
    n.send(note(alert("feature:b"), key="g2"))
    n.send(note(alert("feature:c"), key="g3"))
    assert clock.monotonic() == pytest.approx(2.0)  # two waits of a second, no real sleeping
    assert len(slack.accepted) == 3


def test_429_is_retryable_with_retry_after_and_the_sdk_does_not_retry_itself(slack: FakeSlack) -> None:
    slack.script(Reply(429, headers={"Retry-After": "7"}))
    with pytest.raises(NotifyError) as info:
        notifier(slack).send(note(alert()))
    assert info.value.retryable
    assert info.value.retry_after == 7.0
    assert len(slack.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(slack: FakeSlack, status: int) -> None:
    slack.script(Reply(status, body={"ok": False, "error": "internal_error"}))
    with pytest.raises(NotifyError) as info:
        notifier(slack).send(note(alert()))
    assert info.value.retryable
    assert str(status) in str(info.value)
    assert len(slack.requests) == 1


def test_timeout_is_retryable(slack: FakeSlack) -> None:
    slack.script(Reply(200, body={"ok": True, "ts": "1.2"}, delay=1.6))
    with pytest.raises(NotifyError, match="network error") as info:
        notifier(slack, timeout=1).send(note(alert()))
    assert info.value.retryable


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, body={"ok": False, "error": "channel_not_found"}), "channel_not_found"),
        (Reply(200, body={"ok": False, "error": "invalid_auth"}), "invalid_auth"),
        (Reply(400, body={"ok": False, "error": "invalid_blocks"}), "HTTP 400"),
        (Reply(403, body={"ok": False, "error": "not_allowed_token_type"}), "HTTP 403"),
    ],
)
def test_refusals_are_permanent(slack: FakeSlack, reply: Reply, expected: str) -> None:
    slack.script(reply)
    with pytest.raises(NotifyError, match=expected) as info:
        notifier(slack).send(note(alert()))
    assert not info.value.retryable


def test_transient_slack_error_codes_are_retryable(slack: FakeSlack) -> None:
    slack.script(Reply(200, body={"ok": False, "error": "service_unavailable"}))
    with pytest.raises(NotifyError) as info:
        notifier(slack).send(note(alert()))
    assert info.value.retryable


def test_connection_refused_is_retryable() -> None:
    server = FakeSlack().start()
    url = server.api_url
    server.stop()
    n = SlackNotifier("slack", channel="#x", token=SecretStr(TOKEN), base_url=url, timeout=2)
    with pytest.raises(NotifyError) as info:
        n.send(note(alert()))
    assert info.value.retryable


ROUTES = load_routing(
    """
receivers:
  - {name: slack, kind: slack, channel: "#ml-alerts", token: {env: SLACK_TOKEN}}
route: {receiver: slack, group_by: [signal], group_wait: 30s}
"""
)


def test_after_an_outage_every_alert_is_delivered_exactly_once(slack: FakeSlack) -> None:
    clock = FakeClock(T0)
    slack.script(*[Reply(503) for _ in range(25)], Reply(429, headers={"Retry-After": "30"}))
    drv = Driver(Dispatcher(ROUTES, seed=3), {"slack": notifier(slack, clock)}, clock)
    alerts = [alert(f"feature:{i}") for i in range(4)]
    for a in alerts:
        drv.publish(a)
    drv.run_for(4 * 3600, until=lambda: len(slack.accepted) == 4)
    posted = sorted(r.body["text"].split()[-3] for r in slack.accepted)
    assert posted == sorted(a.summary.split()[-3] for a in alerts)
    assert len(slack.requests) == 26 + 4
    assert drv.dead_letters == []
    assert drv.d.committable() == {("alerts", 0): 4}


def test_canary_secret_appears_nowhere(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(T0)
    # a hostile server echoes the token back in its errors
    slack.script(
        Reply(200, body={"ok": False, "error": "invalid_auth", "echo": TOKEN}),
        Reply(500, body={"ok": False, "error": f"boom {TOKEN}"}),
    )
    n = notifier(slack, clock)
    texts: list[str] = []
    for _ in range(2):
        try:
            n.send(note(alert()))
        except NotifyError as exc:
            texts += [str(exc), repr(exc)]
    drv = Driver(
        Dispatcher(ROUTES, seed=1, redact=Redactor([TOKEN])), {"slack": FakeNotifier("slack")}, clock
    )
    drv.notifiers["slack"].fail_next(1, retryable=False, message=f"refused with {TOKEN}")
    drv.publish(alert())
    drv.run_for(60)
    texts += [dl.model_dump_json() for dl in drv.dead_letters]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    texts += [n_.model_dump_json() for n_ in drv.notifiers["slack"].sent]
    assert drv.dead_letters, "the dead-letter path ran"
    assert len(slack.requests) == 2
    for t in texts:
        assert TOKEN not in t


def test_retry_after_from_slack_is_honoured_by_the_router(slack: FakeSlack) -> None:
    clock = FakeClock(T0)
    slack.script(Reply(429, headers={"Retry-After": "45"}))
    drv = Driver(Dispatcher(ROUTES, seed=2), {"slack": notifier(slack, clock)}, clock)
    drv.publish(alert())
    drv.run_for(30 + 44)
    assert len(slack.requests) == 1
    drv.run_for(2)
    assert len(slack.requests) == 2
    assert len(slack.accepted) == 1


def test_a_new_notifier_with_the_kept_state_replies_in_the_old_thread(slack: FakeSlack) -> None:
    """What a restarted router does: the thread comes from the state book, not from memory."""
    a, b = alert("feature:a"), alert("feature:b")
    first = notifier(slack)
    first.send(note(a, b))
    assert first.state.namespace == "slack|slack|"
    kept = first.state.drain()
    assert {k for k, _ in kept} == {f"slack|slack|{a.fingerprint}", f"slack|slack|{b.fingerprint}"}
    second = notifier(slack)
    for key, value in kept:
        second.state.load(key.removeprefix(second.state.namespace), value)
    second.send(note(resolved(a), b))  # the group flush after the restart: a resolved, b still firing
    second.send(note(resolved(b)))
    reply1, reply2, update = (r.body for r in slack.requests[1:])
    assert reply1["thread_ts"] == reply2["thread_ts"] == "1700000000.000001"
    assert update == {**update, "channel": "C0ALERTS", "ts": "1700000000.000001"}
    assert slack.requests[3].path == "/api/chat.update"
    assert dict(second.state.items()) == {}  # resolved alerts leave the state
    assert sorted(v is None for _, v in second.state.drain()) == [True, True]


def test_an_ack_is_an_escaped_reply_in_the_alerts_thread(slack: FakeSlack) -> None:
    from datetime import timedelta

    from glasswatch.schemas.ack import AlertAck

    a, lone = alert("feature:a"), alert("feature:lone", model="<!here>")
    n = notifier(slack)
    n.send(note(a))

    def ack(x: object) -> Notification:
        who = AlertAck(fingerprint=x.fingerprint, starts_at=x.starts_at, by="<!channel> ana",  # type: ignore[attr-defined]
                       at=T0 + timedelta(minutes=2), note="on it & <https://evil|docs>")
        return Notification(receiver="slack", group_key="ack", alerts=(x,), ack=who)  # type: ignore[arg-type]

    n.acknowledge(ack(a))
    n.acknowledge(ack(lone))  # no thread known: a message of its own naming the alert
    reply, alone = slack.requests[1].body, slack.requests[2].body
    said = ":eyes: acknowledged by &lt;!channel&gt; ana: on it &amp; &lt;https://evil|docs&gt;"
    assert reply == {"channel": "#ml-alerts", "text": said, "thread_ts": "1700000000.000001"}
    assert "thread_ts" not in alone
    assert alone["text"].startswith(said + " — [&lt;!here&gt;]")
