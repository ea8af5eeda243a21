"""Fault runs on the real broker (issue 9): a broker SIGKILL, a worker SIGKILL while the publisher
is still sending, and a consumer group that grows and loses a member mid-stream.

Each run publishes a few thousand events of several models (single events and batch envelopes
mixed, a few malformed messages and bad items; every model has an injected change, so its
monitors alert) and then checks the workers against an *uninterrupted* computation: the
partition's log, read back from the broker, run through one fresh ``PartitionState`` the ingest
agent's way (:func:`fault_helpers.reference`). In every run:

* the log holds every published message exactly once, in order, and nothing else;
* per model, events counted = events sent (lost = 0, duplicated = 0), and the statistics and each
  monitor's ``state_digest`` equal the uninterrupted run's;
* the alerts topic holds exactly the uninterrupted run's alert ids, and re-sent copies of an id
  are identical; the dead-letter topic holds exactly the expected (offset, item, reason) set.

The figures of each run (events, kills, catch-up time, lost, duplicated, re-sent copies) are
printed (``pytest -s``) and attached to the test report as properties.

The workers run with Faust's ``BROKER_SESSION_TIMEOUT=10`` (default 60 s) so that the group
coordinator evicts a SIGKILLed member within the test's time budget; nothing else is tuned.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from glasswatch.commands.dlq import read_topic_json
from glasswatch.commands.worker import spec_lookup
from glasswatch.schemas.coords import partition_key
from glasswatch.schemas.dead_letter import DeadLetter

from .fault_helpers import (
    Outgoing,
    Publisher,
    Settled,
    broker_pid,
    plan_stream,
    read_partition,
    reference,
    settle,
    sigkill_and_reap,
    start_private_broker,
)
from .worker_process import FAST_GROUP, WorkerProcess

pytestmark = pytest.mark.integration

PER_MODEL = 1000
FAULT_ENV = {
    **FAST_GROUP,
    "GLASSWATCH_WORKER__PUBLIC_URL": "http://glasswatch.fault-runs.test",  # same links from every worker
    "GLASSWATCH_WORKER__STATE_KEY": "fault-runs-" + "5eed" * 8,  # one consumer group, one state key
    "GLASSWATCH_WORKER__IDLE_TICK_S": "0",  # no idle ticks: the input log holds only what we sent
}


def _start_time() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def _configure(worker: WorkerProcess, models: Sequence[str], workdir: Path) -> Callable[[str], Any]:
    """10 s windows for every model (so a short stream has enough windows to alert); the same
    spec file for the worker and the reference."""
    spec = workdir / "monitors.yaml"
    spec.write_text("\n---\n".join(f"model: {m}\nwindow: {{size_seconds: 10}}\n" for m in models))
    worker.extra_env.update(FAULT_ENV, GLASSWATCH_WORKER__MONITOR_SPECS=str(spec))
    return spec_lookup(spec)


def _wait_serving(workers: Sequence[WorkerProcess], timeout_s: float = 120.0) -> None:
    for w in workers:
        w.wait_for(lambda s: True, timeout_s=timeout_s)


def _accepted(w: WorkerProcess) -> int:
    snap = w.stats() if w.alive else None
    return int(snap["accepted"]) if snap else 0


def _report(name: str, figures: dict[str, Any], record: Callable[[str, object], None]) -> None:
    print(f"\n[fault run: {name}] " + json.dumps(figures, sort_keys=True))
    for k, v in figures.items():
        record(f"{name}.{k}", v)


def _verify(
    workers: Sequence[WorkerProcess],
    plan: Sequence[Outgoing],
    offsets: Sequence[int],
    spec_for: Callable[[str], Any],
    *,
    timeout_s: float,
) -> tuple[Settled, dict[str, Any]]:
    """Wait until the live workers hold every partition up to its last published message, then
    compare them with the uninterrupted computation; returns what they serve and the figures."""
    settings = workers[0].settings
    bootstrap, topic = settings.kafka.bootstrap, settings.topics.predictions
    assert len(offsets) == len(plan)
    sent_by_partition: dict[int, list[tuple[int, Outgoing]]] = {}
    for msg, off in zip(plan, offsets, strict=True):
        sent_by_partition.setdefault(msg.partition, []).append((off, msg))
    want = {partition_key(topic, p): max(o for o, _ in sent) for p, sent in sent_by_partition.items()}

    def all_dead() -> None:
        if not any(w.alive for w in workers):
            raise AssertionError("every worker exited:\n" + "\n".join(w.log_tail() for w in workers))

    settled = settle(workers, want, timeout_s=timeout_s, on_wait=all_dead)

    sent_events = Counter[str]()
    for msg in plan:
        sent_events[msg.model] += msg.events
    counted = {m: sum(settled.models.get(m, {}).get("events", {}).values()) for m in sent_events}
    lost = sum(max(0, sent_events[m] - counted[m]) for m in sent_events)
    duplicated = sum(max(0, counted[m] - sent_events[m]) for m in sent_events)
    assert (lost, duplicated) == (0, 0), f"sent {dict(sent_events)}, counted {counted}"
    assert set(settled.models) == set(sent_events)

    expected_alerts: set[str] = set()
    expected_letters: set[tuple[int, int, int | None, str]] = set()
    expected_rejects = Counter[str]()
    for p, sent in sorted(sent_by_partition.items()):
        key = partition_key(topic, p)
        log = read_partition(bootstrap, topic, p, settled.offsets[key])
        # the broker holds each published message once, at its acknowledged offset, in order
        assert [(m.coord.offset, m.value) for m in log] == [(o, msg.value) for o, msg in sent]
        ref = reference(log, spec_for)
        assert ref.state.last_offset == settled.offsets[key]
        for model, entry in ref.model_stats().items():
            got = settled.models[model]
            assert got == json.loads(json.dumps(entry)), (
                f"statistics of {model} differ from the uninterrupted run"
            )
        assert settled.digests.get(key) == ref.digests(), f"monitor digests of {key} differ"
        expected_alerts |= ref.alert_ids
        expected_letters |= {(p, off, idx, reason) for off, idx, reason in ref.letters}
        expected_rejects.update(ref.state.rejects)
    assert settled.rejects == dict(expected_rejects)

    alerts = asyncio.run(read_topic_json(bootstrap, settings.topics.alerts))
    by_id: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        by_id.setdefault(a["id"], []).append(a)
    assert set(by_id) == expected_alerts, (
        f"alert ids differ: missing {sorted(expected_alerts - set(by_id))[:5]}, "
        f"unexpected {sorted(set(by_id) - expected_alerts)[:5]}"
    )
    assert expected_alerts, "the stream should raise alerts (each model has an injected change)"
    for copies in by_id.values():
        assert all(c == copies[0] for c in copies), f"copies of alert {copies[0]['id']} differ"

    letters = [
        DeadLetter.model_validate(d)
        for d in asyncio.run(read_topic_json(bootstrap, settings.topics.dead_letters))
    ]
    got_letters = [(d.source_partition, d.source_offset, tuple(d.rejected_items())) for d in letters]
    got_items = {(p, off, idx, reason) for p, off, items in got_letters for idx, reason in items}
    assert got_items == expected_letters, "dead letters differ from the uninterrupted run"
    assert expected_letters

    figures = {
        "events_sent": sum(sent_events.values()),
        "events_counted": sum(counted.values()),
        "messages_sent": len(plan),
        "models": len(sent_events),
        "partitions": len(sent_by_partition),
        "lost": lost,
        "duplicated": duplicated,
        "alerts": len(expected_alerts),
        "alert_copies_resent": len(alerts) - len(by_id),
        "dead_lettered_items": len(expected_letters),
        "dead_letter_copies_resent": len(got_letters) - len(set(got_letters)),
        "replayed_offsets_skipped": settled.skipped_replays,
    }
    return settled, figures


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Every worker a test starts; stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.stop()


# --- 1. broker SIGKILL and restart mid-stream -------------------------------------------------


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A private broker for this test only (the shared one is never touched)."""
    kafka = start_private_broker(tmp_path)
    try:
        yield kafka
    finally:
        kafka.stop()


@pytest.mark.timeout(200)
def test_broker_sigkill_and_restart_mid_stream(
    own_broker: Any, tmp_path: Path, workers: list[WorkerProcess], record_property: Any
) -> None:
    """Half the stream, SIGKILL the broker's JVM while the worker is applying it, restart the
    broker on the same port and data dir, the other half: the worker recovers by itself."""
    models = ["bk-a", "bk-b", "bk-c", "bk-d"]
    worker = WorkerProcess(own_broker.bootstrap, tmp_path / "w0", partitions=4)
    (tmp_path / "w0").mkdir()
    spec_for = _configure(worker, models, tmp_path)
    workers.append(worker)
    plan = plan_stream(models, per_model=PER_MODEL, partitions=4, seed=101, start=_start_time())
    half = len(plan) // 2
    first_events = sum(m.events for m in plan[:half])
    worker.start()
    _wait_serving([worker])
    topic = worker.settings.topics.predictions
    first = Publisher(own_broker.bootstrap, topic, plan[:half]).run()

    snap = worker.wait_for(lambda s: s["accepted"] > 0, timeout_s=120)
    applied_at_kill = snap["accepted"]
    pid = broker_pid(own_broker.workdir)
    sigkill_and_reap(pid)
    killed = time.monotonic()
    time.sleep(3.0)  # the worker sees the broker gone (fetches, commits and sends fail)
    own_broker.start()  # same port, same data dir (the launcher keeps both across starts)
    restarted = time.monotonic()
    assert broker_pid(own_broker.workdir) != pid
    assert worker.alive, "the worker exited when the broker went away:\n" + worker.log_tail()
    second = Publisher(own_broker.bootstrap, topic, plan[half:]).run()

    settled, figures = _verify(workers, plan, first.offsets + second.offsets, spec_for, timeout_s=120)
    caught_up = time.monotonic()
    _report(
        "broker_sigkill",
        {
            **figures,
            "broker_kills": 1,
            "events_published_before_kill": first_events,
            "events_applied_at_kill": applied_at_kill,
            "broker_down_s": round(restarted - killed, 1),
            "catch_up_after_restart_s": round(caught_up - restarted, 1),
        },
        record_property,
    )
    assert settled.accepted == figures["events_sent"]


# --- 2. worker SIGKILL while the publisher is still sending -----------------------------------


@pytest.mark.timeout(200)
def test_worker_sigkill_while_the_publisher_is_sending(
    kafka_bootstrap: str, tmp_path: Path, workers: list[WorkerProcess], record_property: Any
) -> None:
    """The publisher sends for ~25 s; the worker is SIGKILLed at a seeded moment of that and
    restarted at once, while messages keep arriving."""
    seed = 202
    models = ["wk-a", "wk-b", "wk-c", "wk-d"]
    worker = WorkerProcess(kafka_bootstrap, tmp_path, partitions=4)
    spec_for = _configure(worker, models, tmp_path)
    workers.append(worker)
    plan = plan_stream(models, per_model=PER_MODEL, partitions=4, seed=seed, start=_start_time())
    kill_at = int(len(plan) * random.Random(seed).uniform(0.3, 0.6))
    worker.start()
    _wait_serving([worker])
    # a worker slow to join its group must not let the publisher finish first: it waits a few
    # messages past the kill point until the kill is done (0 s when the worker keeps up)
    release = threading.Event()
    pub = Publisher(
        kafka_bootstrap,
        worker.settings.topics.predictions,
        plan,
        duration_s=25.0,
        gates={kill_at + 5: release},
    ).start()
    try:
        pub.wait_acked(kill_at, timeout_s=120)
        worker.wait_for(lambda s: s["accepted"] > 0, timeout_s=120)
        applied_at_kill = _accepted(worker)
        sent_at_kill = pub.acked
        worker.kill(signal.SIGKILL)
        first_run = worker.log_tail()
        restarted = time.monotonic()
        worker.start()
    finally:
        release.set()
    assert sent_at_kill < len(plan), "the publisher finished before the kill: not a mid-stream kill"
    pub.join(timeout_s=120)

    settled, figures = _verify(workers, plan, pub.offsets, spec_for, timeout_s=120)
    caught_up = time.monotonic()
    _report(
        "worker_sigkill",
        {
            **figures,
            "worker_kills": 1,
            "messages_acked_at_kill": sent_at_kill,
            "events_applied_at_kill": applied_at_kill,
            "publisher_s": round(pub.elapsed_s, 1),
            "publisher_paused_for_kill_s": round(pub.gated_s, 1),
            "catch_up_after_restart_s": round(caught_up - restarted, 1),
        },
        record_property,
    )
    assert settled.accepted == figures["events_sent"], first_run


# --- 3. a consumer group of two, then three workers; one SIGKILLed ----------------------------


@pytest.mark.timeout(240)
def test_consumer_group_grows_and_loses_a_worker_mid_stream(
    kafka_bootstrap: str, tmp_path: Path, workers: list[WorkerProcess], record_property: Any
) -> None:
    """Six models over six partitions: two workers start, a third joins at a quarter of the stream
    (rebalance; it holds partitions before the kill), one of the first two is SIGKILLed at two
    thirds (rebalance after the session timeout; the publisher waits at two thirds until the kill
    is done, then goes on); the two left finish the stream."""
    models = [f"cg-{c}" for c in "abcdef"]
    a = WorkerProcess(kafka_bootstrap, tmp_path / "a", partitions=6)
    spec_for = _configure(a, models, tmp_path)
    b, c = a.sibling(tmp_path / "b"), a.sibling(tmp_path / "c")
    for w in (a, b, c):
        w.workdir.mkdir()
    workers.extend([a, b, c])
    plan = plan_stream(models, per_model=PER_MODEL, partitions=6, seed=303, start=_start_time())
    a.start()
    b.start()
    _wait_serving([a, b])
    kill_at = 2 * len(plan) // 3
    release = threading.Event()  # the stream goes on past two thirds once the kill is done
    pub = Publisher(
        kafka_bootstrap, a.settings.topics.predictions, plan, duration_s=30.0, gates={kill_at: release}
    ).start()
    try:
        pub.wait_acked(len(plan) // 4, timeout_s=120)
        c.start()
        joined, joined_at = time.monotonic(), pub.acked
        c.wait_for(lambda s: bool(s["partitions"]), timeout_s=150)  # the group rebalanced onto three
        third_holds_s = time.monotonic() - joined
        pub.wait_acked(kill_at, timeout_s=120)
        holding = {w: len((w.stats() or {}).get("partitions", {})) for w in (a, b, c)}
        victim = max((a, b), key=lambda w: holding[w])
        applied_by_victim = _accepted(victim)
        killed_at = pub.acked
        victim.kill(signal.SIGKILL)
        killed = time.monotonic()
    finally:
        release.set()
    pub.join(timeout_s=120)

    settled, figures = _verify(workers, plan, pub.offsets, spec_for, timeout_s=150)
    caught_up = time.monotonic()
    survivors = [i for i, w in enumerate(workers) if w.alive]
    _report(
        "consumer_group",
        {
            **figures,
            "workers": 3,
            "worker_kills": 1,
            "messages_acked_when_third_started": joined_at,
            "third_worker_holds_partitions_after_s": round(third_holds_s, 1),
            "publisher_paused_for_kill_s": round(pub.gated_s, 1),
            "partitions_per_worker_before_kill": [holding[w] for w in (a, b, c)],
            "messages_acked_at_kill": killed_at,
            "partitions_held_by_victim": holding[victim],
            "events_applied_by_victim": applied_by_victim,
            "publisher_s": round(pub.elapsed_s, 1),
            "catch_up_after_kill_s": round(caught_up - killed, 1),
            "partitions_per_survivor": dict(Counter(str(settled.owner[k]) for k in settled.owner)),
        },
        record_property,
    )
    assert len(survivors) == 2
    assert set(settled.owner.values()) <= set(survivors)
