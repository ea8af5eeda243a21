"""The router's state topic and acknowledgements through a real Kafka broker, the real slack_sdk and
pagerduty clients and the local fake servers.

* A router restarted between an alert's firing and its resolve still replies in the firing
  message's Slack thread (thread ``ts`` kept in the router-state topic).
* An ack written with :class:`~glasswatch.kafka.ack_store.AckStore` while alerts fire stops the
  escalation of the acknowledged warning (an unacknowledged one escalates), sends PagerDuty an
  ``acknowledge`` event with the page's dedup key and replies "acknowledged by" (escaped) in the
  Slack thread; a restarted router tells none of it again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from fake_servers import FakePagerDuty, FakeSlack
from kafka_helpers import create_topic, unique_topic

from glasswatch.agents.router import RouterRuntime
from glasswatch.alerting.dispatcher import Dispatcher
from glasswatch.alerting.escalation import Escalator
from glasswatch.alerting.notify.base import RetryPolicy
from glasswatch.alerting.notify.build import build_notifiers
from glasswatch.alerting.notify.rate_limit import RateLimiter
from glasswatch.alerting.notify.slack.notifier import SlackNotifier
from glasswatch.alerting.routes import RoutingConfig
from glasswatch.kafka.ack_store import AckStore
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, Severity
from glasswatch.testing.routing import alert, resolved

from .test_router_kafka import PD_KEY, SLACK_TOKEN, routing
from .test_router_kafka import until as wait_until

pytestmark = pytest.mark.integration


async def until(cond: Callable[[], bool], task: asyncio.Task[None], what: str, timeout: float = 60.0) -> None:
    await wait_until(cond, timeout, what, task)


def runtime(
    bootstrap: str, config: RoutingConfig, pd: FakePagerDuty, topics: dict[str, str], escalate_after: float
) -> RouterRuntime:
    notifiers, redactor = build_notifiers(
        config, {"PD_KEY": PD_KEY, "SLACK_TOKEN": SLACK_TOKEN}, env="prod", verify=pd.ssl_context, timeout=5.0
    )
    slack = notifiers["slack"]
    assert isinstance(slack, SlackNotifier)
    slack.limiter = RateLimiter(0.02)
    return RouterRuntime(
        bootstrap=bootstrap,
        alerts_topic=topics["alerts"],
        dead_letter_topic=topics["dlq"],
        deliveries_topic=f"{topics['alerts']}.deliveries",
        acks_topic=f"{topics['alerts']}.acks",
        state_topic=f"{topics['alerts']}.router-state",
        group_id=topics["group"],
        dispatcher=Dispatcher(
            config,
            escalator=Escalator(after=timedelta(seconds=escalate_after)),
            redact=redactor,
            alerts_topic=topics["alerts"],
            retry=RetryPolicy(initial=0.05, cap=0.3),
        ),
        notifiers=notifiers,
        poll_timeout=0.2,
        redact=redactor,
    )


async def publish(producer: AIOKafkaProducer, topic: str, a: Alert) -> None:
    await producer.send_and_wait(topic, key=a.fingerprint.encode(), value=a.model_dump_json().encode())


def posts(slack: FakeSlack) -> list[dict[str, str]]:
    return [r.body for r in slack.accepted if r.path.endswith("chat.postMessage")]


async def stop_router(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)


def test_a_restarted_router_threads_the_resolve_under_the_firing_message(kafka_bootstrap: str) -> None:
    asyncio.run(_restart_scenario(kafka_bootstrap))


async def _restart_scenario(bootstrap: str) -> None:
    topics = {p: unique_topic(p) for p in ("alerts", "dlq", "group")}
    await create_topic(bootstrap, topics["alerts"], 1)
    warn = alert("feature:threaded")
    with FakePagerDuty() as pd, FakeSlack() as slack:
        config = routing(pd, slack)  # type: ignore[arg-type]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await publish(producer, topics["alerts"], warn)
            rt1 = runtime(bootstrap, config, pd, topics, escalate_after=3600)  # type: ignore[arg-type]
            stop1 = asyncio.Event()
            task1 = asyncio.create_task(rt1.run(stop1))
            await until(lambda: len(posts(slack)) == 1, task1, "the firing message")  # type: ignore[arg-type]
            await asyncio.sleep(0.5)  # a commit round
            task1.cancel()  # a crash: no graceful stop, the in-memory thread map is gone
            with contextlib.suppress(asyncio.CancelledError):
                await task1
            parent_ts = "1700000000.000001"  # the fake numbers its posts 1, 2, ...
            await publish(producer, topics["alerts"], resolved(warn))

            rt2 = runtime(bootstrap, config, pd, topics, escalate_after=3600)  # type: ignore[arg-type]
            stop2 = asyncio.Event()
            task2 = asyncio.create_task(rt2.run(stop2))
            updated = lambda: any(r.path.endswith("chat.update") for r in slack.accepted)  # noqa: E731
            await until(updated, task2, "the parent update")
            await stop_router(task2, stop2)
        finally:
            await producer.stop()
    firing, reply = posts(slack)  # type: ignore[arg-type]
    assert "[FIRING:1]" in firing["text"] and "thread_ts" not in firing
    assert "[RESOLVED:1]" in reply["text"]
    assert reply["thread_ts"] == parent_ts  # a reply under the firing message, not a new thread
    (update,) = [r.body for r in slack.accepted if r.path.endswith("chat.update")]
    assert update["ts"] == parent_ts and "[RESOLVED:1]" in update["text"]


def test_an_ack_stops_escalation_and_is_told_to_pagerduty_and_slack_once(kafka_bootstrap: str) -> None:
    asyncio.run(_ack_scenario(kafka_bootstrap))


async def _ack_scenario(bootstrap: str) -> None:
    topics = {p: unique_topic(p) for p in ("alerts", "dlq", "group")}
    await create_topic(bootstrap, topics["alerts"], 1)
    acked_warn, other_warn = alert("feature:acked"), alert("feature:unacked")
    page = alert("feature:paged", severity=Severity.CRITICAL)
    escalate_after = 6.0
    with FakePagerDuty() as pd, FakeSlack() as slack:
        config = routing(pd, slack)  # type: ignore[arg-type]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        acks = AckStore.connect(bootstrap, f"{topics['alerts']}.acks")
        try:
            rt = runtime(bootstrap, config, pd, topics, escalate_after)  # type: ignore[arg-type]
            stop = asyncio.Event()
            task = asyncio.create_task(rt.run(stop))
            for a in (acked_warn, other_warn, page):
                await publish(producer, topics["alerts"], a)
            await until(lambda: len(posts(slack)) == 3, task, "three firing messages")  # type: ignore[arg-type]
            await until(lambda: ("trigger", page.fingerprint) in pd.events(), task, "the page")
            told_at = datetime.now(UTC)
            for a in (acked_warn, page):
                await acks.put(
                    AlertAck(
                        fingerprint=a.fingerprint,
                        starts_at=a.starts_at,
                        by="ana <!channel>",
                        at=datetime.now(UTC),
                        note="on it & <b>",
                    )
                )
            await until(lambda: ("acknowledge", page.fingerprint) in pd.events(), task, "the PD acknowledge")
            await until(
                lambda: sum("acknowledged by" in p["text"] for p in posts(slack)) == 2,  # type: ignore[arg-type]
                task,
                "two Slack ack replies",
            )
            # the unacknowledged warning escalates to PagerDuty; the acknowledged one never does
            await until(lambda: ("trigger", other_warn.fingerprint) in pd.events(), task, "the escalation")
            remaining = escalate_after + 2.0 - (datetime.now(UTC) - told_at).total_seconds()
            await asyncio.sleep(max(remaining, 0.0))
            await stop_router(task, stop)

            # a restarted router replays the acks topic but tells nobody again
            rt2 = runtime(bootstrap, config, pd, topics, escalate_after)  # type: ignore[arg-type]
            stop2 = asyncio.Event()
            task2 = asyncio.create_task(rt2.run(stop2))
            await asyncio.sleep(3.0)
            assert not task2.done()
            await stop_router(task2, stop2)
        finally:
            await producer.stop()
            await acks.close()
    events = list(pd.events())
    assert ("trigger", acked_warn.fingerprint) not in events
    assert events.count(("acknowledge", page.fingerprint)) == 1
    assert [k for act, k in events if act == "acknowledge"] == [page.fingerprint]
    assert events.index(("trigger", page.fingerprint)) < events.index(("acknowledge", page.fingerprint))
    replies = [p for p in posts(slack) if "acknowledged by" in p["text"]]  # type: ignore[arg-type]
    assert len(replies) == 2
    parents = {  # signal → ts of its firing message (the fake numbers its posts 1, 2, ...)
        p["text"].rsplit(" ", 2)[-2]: f"1700000000.{i:06d}"
        for i, p in enumerate(posts(slack), start=1)  # type: ignore[arg-type]
        if "[FIRING" in p["text"] and "thread_ts" not in p
    }
    assert {r["thread_ts"] for r in replies} == {parents["feature:acked"], parents["feature:paged"]}
    for r in replies:
        assert r["text"] == ":eyes: acknowledged by ana &lt;!channel&gt;: on it &amp; &lt;b&gt;"
