"""The router through a real Kafka broker, real slack_sdk / pagerduty clients and local fake servers.

A first router is killed (its task cancelled: in-memory state lost, no drain, no final commit)
while a PagerDuty request is in flight; a second one takes over the consumer group. Nobody is
paged twice, nothing is lost, triggers precede resolves, refusals and junk are dead-lettered
without secrets, and the group's offsets end at the end of the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fake_servers import FakePagerDuty, FakeSlack, Reply
from kafka_helpers import create_topic, unique_topic

from glasswatch.agents.router import RouterRuntime
from glasswatch.alerting.dispatcher import Dispatcher
from glasswatch.alerting.notify.base import RetryPolicy
from glasswatch.alerting.notify.build import build_notifiers
from glasswatch.alerting.notify.rate_limit import RateLimiter
from glasswatch.alerting.notify.slack.notifier import SlackNotifier
from glasswatch.alerting.routes import RoutingConfig, load_routing
from glasswatch.alerting.silence import Silence
from glasswatch.kafka.compacted import CompactedTopic
from glasswatch.kafka.silence_store import SilenceStore
from glasswatch.schemas.alert import Alert, Severity
from glasswatch.schemas.dead_letter import DeadLetter
from glasswatch.testing.routing import alert, resolved

pytestmark = pytest.mark.integration

PD_KEY = "PDCANARYQZQZ0123456789abcdefXQXQ"
SLACK_TOKEN = "xoxb-CANARY-integration-QZQZ"


async def until(
    cond: Callable[[], bool], timeout: float = 60.0, what: str = "", task: asyncio.Task[None] | None = None
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if task is not None and task.done():
            task.result()  # the router died: show why
            raise AssertionError(f"the router stopped before {what}")
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.05)


def routing(pd: FakePagerDuty, slack: FakeSlack) -> RoutingConfig:
    return load_routing(
        f"""
receivers:
  - {{name: pd, kind: pagerduty, routing_key: {{env: PD_KEY}}, url: "{pd.url}"}}
  - {{name: slack, kind: slack, channel: "#ml-alerts", token: {{env: SLACK_TOKEN}},
     api_url: "{slack.api_url}"}}
  - {{name: log, kind: log}}
route:
  receiver: log
  group_by: [signal]
  group_wait: 0s
  group_interval: 1s
  routes:
    - {{matchers: ['severity="critical"'], receiver: pd, continue: true}}
    - {{matchers: ['severity=~"warning|critical"'], receiver: slack}}
"""
    )


def make_runtime(
    bootstrap: str, config: RoutingConfig, pd: FakePagerDuty, topics: dict[str, str]
) -> RouterRuntime:
    env = {"PD_KEY": PD_KEY, "SLACK_TOKEN": SLACK_TOKEN}
    notifiers, redactor = build_notifiers(config, env, env="prod", verify=pd.ssl_context, timeout=5.0)
    slack = notifiers["slack"]
    assert isinstance(slack, SlackNotifier)
    slack.limiter = RateLimiter(0.02)  # keep the test quick; the 1/s default is unit-tested
    return RouterRuntime(
        bootstrap=bootstrap,
        alerts_topic=topics["alerts"],
        dead_letter_topic=topics["dlq"],
        silences_topic=topics["silences"],
        deliveries_topic=f"{topics['alerts']}.deliveries",
        group_id=topics["group"],
        dispatcher=Dispatcher(
            config, redact=redactor, alerts_topic=topics["alerts"], retry=RetryPolicy(initial=0.05, cap=0.3)
        ),
        notifiers=notifiers,
        poll_timeout=0.2,
        redact=redactor,
    )


async def publish(producer: AIOKafkaProducer, topic: str, a: Alert) -> None:
    await producer.send_and_wait(topic, key=a.fingerprint.encode(), value=a.model_dump_json().encode())


async def read_topic(bootstrap: str, topic: str) -> list[bytes]:
    return [v for v in (await CompactedTopic(bootstrap, topic, create=False).read_all()).values()]


async def read_log(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
        ends = await consumer.end_offsets(tps)
        out: list[bytes] = []
        while sum(ends.values()) > len(out):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out += [r.value or b"" for r in records]
        return out
    finally:
        await consumer.stop()


def slack_posts(slack: FakeSlack) -> Counter[tuple[str, str]]:
    """(state, signal) of every accepted chat.postMessage."""
    out: Counter[tuple[str, str]] = Counter()
    for r in slack.accepted:
        if r.path.endswith("chat.postMessage"):
            text = r.body["text"]
            state = "firing" if "[FIRING" in text else "resolved"
            out[(state, text.rsplit(" ", 2)[-2])] += 1
    return out


def test_kill_and_restart_pages_nobody_twice_and_loses_nothing(kafka_bootstrap: str) -> None:
    asyncio.run(_scenario(kafka_bootstrap))


async def _scenario(bootstrap: str) -> None:
    topics = {
        "alerts": unique_topic("alerts"),
        "dlq": unique_topic("dlq"),
        "silences": unique_topic("silences"),
        "group": unique_topic("router"),
    }
    await create_topic(bootstrap, topics["alerts"], 2)
    await create_topic(bootstrap, topics["dlq"], 1)
    await create_topic(bootstrap, topics["silences"], 1, configs={"cleanup.policy": "compact"})
    crit = [alert(f"feature:c{i}", severity=Severity.CRITICAL, model=f"m{i % 2}") for i in range(6)]
    warn = [alert(f"feature:w{i}", model=f"m{i % 2}") for i in range(4)]
    muted = alert("feature:muted", model="m9")
    with FakePagerDuty() as pd, FakeSlack() as slack:
        config = routing(pd, slack)  # type: ignore[arg-type]
        silences = SilenceStore(CompactedTopic(bootstrap, topics["silences"]))
        await silences.put(
            Silence.create(
                matchers=['model="m9"'],
                starts_at=muted.starts_at,
                ends_at=muted.starts_at.replace(year=2100),
                created_by="test",
            )
        )
        await silences.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for a in [*crit, *warn, muted]:
                await publish(producer, topics["alerts"], a)
            await producer.send_and_wait(topics["alerts"], key=b"junk", value=b"{not an alert")

            # router 1: two pages go through, the third hangs in flight ... and the router dies
            hold = threading.Event()  # both in-flight requests fail once the router is dead
            pd.script(Reply(202), Reply(202), Reply(503, hold=hold))
            slack.script(Reply(), Reply(), Reply(), Reply(503, hold=hold))
            rt1 = make_runtime(bootstrap, config, pd, topics)  # type: ignore[arg-type]
            task1 = asyncio.create_task(rt1.run())
            await until(lambda: len(pd.requests) >= 3, what="the third PagerDuty request", task=task1)
            await until(lambda: len(slack.requests) >= 4, what="the fourth Slack request", task=task1)
            task1.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task1
            hold.set()  # the hung requests now fail: neither receiver accepted them
            paged_before = [k for act, k in pd.events() if act == "trigger"]
            assert len(paged_before) == 2
            slack_before = slack_posts(slack)  # type: ignore[arg-type]
            assert sum(slack_before.values()) == 3
            by_fp = {a.fingerprint: a for a in crit}
            for fp in paged_before:
                await publish(producer, topics["alerts"], resolved(by_fp[fp]))

            # router 2 takes over; PagerDuty refuses one trigger for good (and echoes the key)
            held_fp = pd.requests[2].body["dedup_key"]
            refused_fp = next(a.fingerprint for a in crit if a.fingerprint not in {*paged_before, held_fp})
            pd.once(
                lambda r: r.body.get("dedup_key") == refused_fp,
                Reply(400, body={"status": "invalid event", "message": f"bad routing key {PD_KEY}"}),
            )
            rt2 = make_runtime(bootstrap, config, pd, topics)  # type: ignore[arg-type]
            stop = asyncio.Event()
            task2 = asyncio.create_task(rt2.run(stop))
            # Slack: a resolved alert is told (firing, then resolve) only if its firing reached Slack
            # before the kill; otherwise it fired and resolved unseen, and Slack hears nothing of it
            gone = {by_fp[fp].signal for fp in paged_before}
            expected_slack = {("firing", a.signal) for a in [*crit, *warn] if a.signal not in gone}
            for signal in gone:
                if ("firing", signal) in slack_before:
                    expected_slack |= {("firing", signal), ("resolved", signal)}

            def done() -> bool:
                events = list(pd.events())
                return (
                    len([e for e in events if e[0] == "trigger"]) == 5
                    and len([e for e in events if e[0] == "resolve"]) == 2
                    and set(slack_posts(slack)) >= expected_slack  # type: ignore[arg-type]
                )

            try:
                await until(done, timeout=90, what="every delivery", task=task2)
            except AssertionError:
                print("PD", list(pd.events(False)), [r.status for r in pd.requests])
                print("SLACK", slack_posts(slack), expected_slack - set(slack_posts(slack)))
                raise
            await until(
                lambda: rt2.dispatcher.backlog == 0 and rt2.in_flight == 0, what="an idle router", task=task2
            )
            await asyncio.sleep(0.5)  # one more poll/commit round
            stop.set()
            await task2
        finally:
            await producer.stop()

        # nobody paged twice, nothing lost, triggers before resolves
        events = list(pd.events())
        triggers = [k for act, k in events if act == "trigger"]
        assert len(triggers) == len(set(triggers)) == 5
        assert refused_fp not in triggers
        for fp in paged_before:
            assert [act for act, k in events if k == fp] == ["trigger", "resolve"]
        posts = slack_posts(slack)  # type: ignore[arg-type]
        assert set(posts) == expected_slack
        assert all(n == 1 for n in posts.values()), posts
        assert ("firing", "feature:muted") not in posts  # silenced through the topic

        # the refused page and the junk message are dead letters, without secrets
        dead = [DeadLetter.model_validate_json(raw) for raw in await read_log(bootstrap, topics["dlq"])]
        assert sorted(d.reason for d in dead) == ["not_json", "rejected_by_receiver"]
        (refused,) = [d for d in dead if d.reason == "rejected_by_receiver"]
        refused_alert = Alert.model_validate_json(refused.raw_bytes())
        assert {*triggers, refused_alert.fingerprint} == {a.fingerprint for a in crit}
        assert refused.source_topic == topics["alerts"]
        for d in dead:
            assert PD_KEY not in d.model_dump_json()
            assert SLACK_TOKEN not in d.model_dump_json()

        # the delivery log is durable and every offset was committed
        log_keys = await read_topic(bootstrap, f"{topics['alerts']}.deliveries")
        assert len(log_keys) >= 5 + 2 + len(expected_slack)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=topics["group"], enable_auto_commit=False
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topics["alerts"], p) for p in (0, 1)]
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                assert await consumer.committed(tp) == ends[tp]
        finally:
            await consumer.stop()


def test_silence_commands_round_trip_through_the_compacted_topic(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from glasswatch.cli import app

    topic = unique_topic("silences")
    monkeypatch.setenv("GLASSWATCH_KAFKA__BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("GLASSWATCH_TOPICS__SILENCES", topic)
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "silence",
            "add",
            "-m",
            'model="churn"',
            "-m",
            "kind=~data_drift",
            "--duration",
            "2h",
            "--comment",
            "retraining",
            "--created-by",
            "ana",
        ],
    )
    assert added.exit_code == 0, added.output
    sid = added.output.strip()
    listed = runner.invoke(app, ["silence", "list"])
    assert listed.exit_code == 0, listed.output
    (row,) = [line for line in listed.output.splitlines() if line.startswith(sid)]
    assert " active " in row
    assert 'model="churn",kind=~"data_drift"' in row
    assert row.endswith("retraining")
    expired = runner.invoke(app, ["silence", "expire", sid])
    assert expired.exit_code == 0, expired.output
    assert sid not in runner.invoke(app, ["silence", "list"]).output
    assert " expired " in runner.invoke(app, ["silence", "list", "--all"]).output
    missing = runner.invoke(app, ["silence", "expire", "nope"])
    assert missing.exit_code != 0
    assert "no silence with id 'nope'" in str(missing.exception)
    stored = asyncio.run(SilenceStore(CompactedTopic(kafka_bootstrap, topic)).load()).get(sid)
    assert stored is not None
    assert (stored.ends_at - stored.starts_at).total_seconds() < 60  # expired right away, not after 2h
    assert stored.created_by == "ana"


def test_sigkilled_router_process_pages_nobody_twice(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The real ``glasswatch router run`` process, killed with SIGKILL mid-delivery, then restarted."""
    asyncio.run(_sigkill_scenario(kafka_bootstrap, tmp_path))


def _spawn(env: dict[str, str], routes: Path, group: str, log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("glasswatch")
    return subprocess.Popen(
        [str(exe), "router", "run", "--routes", str(routes), "--group-id", group],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def _sigkill_scenario(bootstrap: str, tmp_path: Path) -> None:
    alerts_topic, dlq, silences, group = (unique_topic(p) for p in ("alerts", "dlq", "silences", "router"))
    await create_topic(bootstrap, alerts_topic, 1)
    crit = [alert(f"feature:k{i}", severity=Severity.CRITICAL) for i in range(4)]
    with FakePagerDuty() as pd:
        routes = tmp_path / "routes.yaml"
        routes.write_text(
            f"""
receivers:
  - {{name: pd, kind: pagerduty, routing_key: {{env: PD_KEY}}, url: "{pd.url}"}}
route: {{receiver: pd, group_by: [signal], group_wait: 0s, group_interval: 1s}}
"""
        )
        env = {
            **os.environ,
            "PD_KEY": PD_KEY,
            "SSL_CERT_FILE": str(pd.cert),  # httpx trusts the fake server's self-signed certificate
            "GLASSWATCH_ENV": "prod",
            "GLASSWATCH_KAFKA__BOOTSTRAP": bootstrap,
            "GLASSWATCH_TOPICS__ALERTS": alerts_topic,
            "GLASSWATCH_TOPICS__DEAD_LETTERS": dlq,
            "GLASSWATCH_TOPICS__SILENCES": silences,
        }
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for a in crit:
                await publish(producer, alerts_topic, a)
        finally:
            await producer.stop()
        hold = threading.Event()
        pd.script(Reply(202), Reply(503, hold=hold))
        log = tmp_path / "router.log"
        first = _spawn(env, routes, group, log)
        try:
            await until(
                lambda: len(pd.requests) >= 2 or first.poll() is not None, timeout=90, what="a held page"
            )
            assert first.poll() is None, log.read_text()
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            hold.set()
            if first.poll() is None:
                first.kill()
        assert len(pd.accepted) == 1
        second = _spawn(env, routes, group, log)
        try:
            await until(
                lambda: len(pd.accepted) == 4 or second.poll() is not None, timeout=90, what="every page"
            )
            assert second.poll() is None, log.read_text()
            await asyncio.sleep(1.0)  # nothing more may arrive
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()
        finally:
            if second.poll() is None:
                second.kill()
        triggers = [k for act, k in pd.events() if act == "trigger"]
        assert sorted(triggers) == sorted(a.fingerprint for a in crit), log.read_text()
        assert PD_KEY not in log.read_text()


def test_backpressure_pauses_consumption_during_an_outage_and_loses_nothing(kafka_bootstrap: str) -> None:
    asyncio.run(_backpressure_scenario(kafka_bootstrap))


async def _backpressure_scenario(bootstrap: str) -> None:
    topics = {p: unique_topic(p) for p in ("alerts", "dlq", "silences", "group")}
    await create_topic(bootstrap, topics["alerts"], 1)
    first = [alert(f"feature:b{i}", severity=Severity.CRITICAL) for i in range(4)]
    later = [alert(f"feature:l{i}", severity=Severity.CRITICAL) for i in range(4)]
    with FakePagerDuty() as pd, FakeSlack() as slack:
        config = routing(pd, slack)  # type: ignore[arg-type]
        pd.script(*[Reply(503) for _ in range(10_000)])  # down until we clear the script
        rt = make_runtime(bootstrap, config, pd, topics)  # type: ignore[arg-type]
        rt.max_backlog = 3
        stop = asyncio.Event()
        task = asyncio.create_task(rt.run(stop))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for a in first:
                await publish(producer, topics["alerts"], a)
            await until(lambda: rt._paused, what="the router to pause", task=task)
            for a in later:
                await publish(producer, topics["alerts"], a)
            await asyncio.sleep(1.0)
            seen = rt.dispatcher.committable()[(topics["alerts"], 0)]
            assert seen == 0  # nothing settled for pd, and the later alerts were not even read
            assert (
                rt.dispatcher._offsets[(topics["alerts"], 0)].max_seen == len(first) - 1
            )  # later ones unread
            with pd._lock:
                pd._script.clear()  # the outage ends
            await until(lambda: len(pd.accepted) == 8, timeout=60, what="every page", task=task)
            await until(
                lambda: not rt._paused and rt.dispatcher.backlog == 0, what="resumed and idle", task=task
            )
            stop.set()
            await task
        finally:
            await producer.stop()
        triggers = [k for act, k in pd.events() if act == "trigger"]
        assert sorted(triggers) == sorted(a.fingerprint for a in [*first, *later])
