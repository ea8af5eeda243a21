"""The labels agent on the real broker: a concept change (labels follow another function of the
same inputs) raises concept_drift and performance_drop; a SIGKILL mid-join loses no pending
prediction and re-sends no alert under a new id."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from glasswatch.commands.dlq import read_topic_json
from glasswatch.drift.labels import LabelJoin
from glasswatch.drift.pending import MemoryPendingStore
from glasswatch.drift.performance import PerformanceConfig, PerformanceMonitor
from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
from glasswatch.schemas.events import LabelEvent, PredictionEvent

from .worker_process import FAST_GROUP, WorkerProcess

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("labels_worker_main.py")
REGISTERED = {"accuracy_score": 0.93, "roc_auc": 0.97}
WINDOW = 500
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


class LabelsWorker(WorkerProcess):
    """A worker process running the labels agent (``labels_worker_main.py``)."""

    def start(self) -> LabelsWorker:
        env = self.env() | {"GW_TEST_WINDOW": str(WINDOW), "GW_TEST_REGISTERED": json.dumps(REGISTERED)}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def labels(self) -> dict[str, Any] | None:
        try:
            return dict(self.get("/glasswatch/labels/"))
        except Exception:
            return None

    def wait_labels(self, done: Any, timeout_s: float = 180.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            snap = self.labels()
            if snap is not None:
                last = snap
                if done(snap["totals"]):
                    return snap
            time.sleep(0.2)
        raise AssertionError(f"timed out; last {last and last['totals']}\n{self.log_tail()}")


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[LabelsWorker]:
    w = LabelsWorker(kafka_bootstrap, tmp_path, partitions=2)
    w.extra_env.update(FAST_GROUP)  # the SIGKILLed worker's session must not hold up its restart
    yield w
    w.stop()


def make_stream(
    model: str, n: int, *, change_at: int | None, seed: int
) -> tuple[list[PredictionEvent], list[LabelEvent]]:
    """Predictions of sign(x0 + x1); labels, an hour later, follow it (5 % noise) until
    ``change_at``, then sign(x0 - x1): the inputs never change. Every 50th prediction gets no
    label, every 97th label is sent twice, and one label has no prediction at all."""
    rng = np.random.default_rng(seed)
    preds, labels = [], []
    for i in range(n):
        x0, x1 = (float(v) for v in rng.normal(size=2))
        p1 = 1 / (1 + math.exp(-4 * (x0 + x1)))
        t = START + timedelta(milliseconds=100 * i)
        preds.append(PredictionEvent(
            model=model, model_version="7", prediction_id=f"{model}-{i}", event_time=t,
            features={"x0": x0, "x1": x1}, prediction=int(p1 >= 0.5), probabilities={"0": 1 - p1, "1": p1},
        ))  # fmt: skip
        truth = (x0 + x1 > 0) if change_at is None or i < change_at else (x0 - x1 > 0)
        label = LabelEvent(model=model, prediction_id=f"{model}-{i}", event_time=t + timedelta(hours=1),
                           label=int(truth) ^ int(rng.random() < 0.05))  # fmt: skip
        if i % 50 != 49:
            labels.append(label)
        if i % 97 == 0:
            labels.append(label)
    labels.append(LabelEvent(model=model, prediction_id=f"{model}-nobody", event_time=START, label=1))
    return preds, labels


async def publish(bootstrap: str, topic: str, events: list[Any], *, batch: int = 1) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for i in range(0, len(events), batch):
            chunk = events[i : i + batch]
            if batch == 1:
                value = chunk[0].model_dump_json().encode()
            else:
                value = json.dumps(
                    {"type": "batch", "events": [json.loads(e.model_dump_json()) for e in chunk]}
                ).encode()
            await producer.send(topic, value=value, key=chunk[0].model.encode())
        await producer.flush()
    finally:
        await producer.stop()


def expected(
    preds: list[PredictionEvent], labels: list[LabelEvent]
) -> tuple[dict[str, int], set[str], set[str]]:
    """Counts, alert ids and kinds of an uninterrupted run: the pure join and monitor fed the
    predictions, then the labels, in their partition's order."""
    join = LabelJoin(MemoryPendingStore())
    mon = PerformanceMonitor(
        preds[0].model, "7", registered=REGISTERED, config=PerformanceConfig(window=WINDOW)
    )
    alerts = []
    for e in [*preds, *labels]:
        join.update(e)
        if join.last_join is not None:
            alerts += mon.update(join.last_join).take_alerts()
    return join.counts, {a.id for a in alerts}, {f"{a.kind.value}:{a.status.value}" for a in alerts}


def run_streams(
    worker: LabelsWorker, *, kill_after: int | None, wipe_local: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    s = worker.settings
    asyncio.run(ensure_topics(s.kafka.bootstrap, glasswatch_topics(s)))
    shifty_p, shifty_l = make_stream("shifty", 6000, change_at=3000, seed=1)
    steady_p, steady_l = make_stream("steady", 6000, change_at=None, seed=2)
    worker.start()
    asyncio.run(publish(s.kafka.bootstrap, s.topics.predictions, shifty_p + steady_p, batch=200))
    worker.wait_labels(lambda t: t.get("pending", 0) == 12_000)
    labels = [e for pair in zip(shifty_l, steady_l, strict=False) for e in pair]
    labels += shifty_l[len(steady_l) :] + steady_l[len(shifty_l) :]
    asyncio.run(publish(s.kafka.bootstrap, s.topics.labels, labels))  # one label per message
    total = len(shifty_l) + len(steady_l)
    if kill_after is not None:
        at_kill = worker.wait_labels(lambda t: t.get("labels", 0) >= kill_after)["totals"]
        worker.kill(signal.SIGKILL)
        assert at_kill["labels"] < total, "the kill landed after the join finished: nothing tested"
        if wipe_local:  # the table is rebuilt from its changelog alone (e.g. a new host)
            for db in worker.settings.worker.data_dir.rglob("label-join-*.db"):
                shutil.rmtree(db)
        worker.start()
    snap = worker.wait_labels(lambda t: t.get("labels", 0) >= total, timeout_s=300)
    alerts = asyncio.run(read_topic_json(s.kafka.bootstrap, s.topics.alerts))
    return snap, alerts


def check(snap: dict[str, Any], alerts: list[dict[str, Any]]) -> None:
    counts: dict[str, int] = {}
    streams = {"shifty": make_stream("shifty", 6000, change_at=3000, seed=1),
               "steady": make_stream("steady", 6000, change_at=None, seed=2)}  # fmt: skip
    for model, (preds, labels) in streams.items():
        want_counts, want_ids, want_kinds = expected(preds, labels)
        got = [a for a in alerts if a["model"] == model]
        assert {a["id"] for a in got} == want_ids, model
        assert {f"{a['kind']}:{a['status']}" for a in got} == want_kinds
        for k, v in want_counts.items():
            counts[k] = counts.get(k, 0) + v
        monitor = next(
            p["monitors"][model]["7"] for p in snap["partitions"].values() if model in p["monitors"]
        )
        assert monitor["labelled"] == want_counts["joined"]
    assert snap["totals"] == counts
    assert counts["joined"] > 11_700 and counts["pending"] >= 238 and counts["duplicate_labels"] >= 120
    assert counts["waiting"] == 2  # the labels without a prediction wait (their TTL is 2 days)


def test_a_concept_change_raises_concept_drift_and_performance_drop(worker: LabelsWorker) -> None:
    snap, alerts = run_streams(worker, kill_after=None)
    kinds = {(a["model"], a["kind"], a["status"]) for a in alerts}
    assert ("shifty", "concept_drift", "firing") in kinds and (
        "shifty",
        "performance_drop",
        "firing",
    ) in kinds
    assert not [a for a in alerts if a["model"] == "steady"]
    drop = next(a for a in alerts if a["kind"] == "performance_drop")
    assert drop["evidence"]["registered"] == REGISTERED and drop["evidence"]["inputs_drifted"] == "unknown"
    assert drop["links"]["playbook"].endswith("/playbooks/performance_drop.md")
    check(snap, alerts)


@pytest.mark.parametrize("wipe_local", [False, True], ids=["local-rocksdb", "from-changelog"])
def test_sigkill_mid_join_loses_no_pending_prediction_and_no_alert_changes_id(
    worker: LabelsWorker, wipe_local: bool
) -> None:
    """Killed while labels are being joined, restarted with its local RocksDB (or without it: the
    table comes back from the changelog, whose tail the kill may have cut mid-batch)."""
    snap, alerts = run_streams(worker, kill_after=2500, wipe_local=wipe_local)
    check(snap, alerts)
