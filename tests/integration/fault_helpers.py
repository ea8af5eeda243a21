"""Fault runs on the real broker: a planned stream, a (paced) publisher and the uninterrupted reference.

``plan_stream`` lays out several models' simulated events (each with one injected change, so
the monitors raise alerts) as Kafka messages: single events and batch envelopes mixed, now and
then a malformed message or an envelope with one bad item; model ``i`` goes to partition
``i % partitions``, keyed by model. ``Publisher`` sends such a plan from a background thread (its
own event loop), optionally spread over ``duration_s``, and records each message's offset.
``reference`` runs the partition's log, as the broker holds it, through one fresh
:class:`~glasswatch.monitor.partition.PartitionState` exactly as the ingest agent does, without
interruption: statistics, monitor digests, alert ids and dead letters to compare a faulted worker
with. ``settle`` waits until the live workers together hold every input partition up to a given
offset and returns what they serve.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaProducer

from glasswatch.ingest.validate import Limits, decode
from glasswatch.kafka.reader import read_range
from glasswatch.monitor.partition import PartitionState, SpecLookup
from glasswatch.monitor.reject_rate import model_hint
from glasswatch.monitor.replay import Message
from glasswatch.monitor.stats import merge_states
from glasswatch.testing.simulate import simulate

from .worker_process import WorkerProcess

__all__ = [
    "Outgoing",
    "Publisher",
    "Reference",
    "Settled",
    "broker_pid",
    "plan_stream",
    "read_partition",
    "reference",
    "settle",
    "sigkill_and_reap",
    "start_private_broker",
]

CHANGES = (("mean_shift", 3.0), ("variance", 3.0), ("category_mix", 1.0), ("missing_rate", 0.5))
"""One injected change per model, in turn (each makes the default monitors alert)."""

_NO_SKEW = Limits(max_clock_skew_s=math.inf, max_age_s=math.inf)


@dataclass(frozen=True)
class Outgoing:
    """One planned Kafka message: where it goes, its bytes and what it holds."""

    partition: int
    model: str
    value: bytes
    events: int
    bad: int


def plan_stream(
    models: Sequence[str], *, per_model: int, partitions: int, seed: int, start: datetime
) -> list[Outgoing]:
    """The messages of ``per_model`` events per model, models interleaved at random (seeded).

    About 40 % of the messages carry one event, the others an envelope of 2–60; every 25th
    message of a model also carries one bad item (``wrong_type``, in an envelope) and every 60th
    is followed by a truncated, non-JSON message. Simulated event time runs at 2 events/s.
    """
    rng = random.Random(seed)
    queues: dict[str, list[Outgoing]] = {}
    for i, model in enumerate(models):
        change, magnitude = CHANGES[i % len(CHANGES)]
        recs = simulate(
            per_model, n_features=4, rate=2.0, change=change,  # type: ignore[arg-type]
            change_at=per_model * 6 // 10, magnitude=magnitude, seed=seed + i, model=model, start=start,
        )  # fmt: skip
        docs = [r.event.model_dump(mode="json") for r in recs]
        part = i % partitions
        out: list[Outgoing] = []
        j = 0
        while j < len(docs):
            size = 1 if rng.random() < 0.4 else rng.randint(2, 60)
            chunk, j = docs[j : j + size], j + size
            items: list[Any] = list(chunk)
            bad = 0
            if len(out) % 25 == 24:
                items.insert(rng.randrange(len(items) + 1), {**chunk[0], "latency_ms": "slow"})
                bad = 1
            body = items[0] if len(items) == 1 else {"schema_version": 1, "type": "batch", "events": items}
            out.append(Outgoing(part, model, orjson.dumps(body), len(chunk), bad))
            if len(out) % 60 == 59:
                out.append(Outgoing(part, model, orjson.dumps(chunk[-1])[:-9], 0, 1))
        queues[model] = out
    plan: list[Outgoing] = []
    while queues:
        model = rng.choice(sorted(queues))
        plan.append(queues[model].pop(0))
        if not queues[model]:
            del queues[model]
    return plan


class Publisher:
    """Send a plan (idempotent producer, ``acks=all``) from a background thread.

    ``duration_s`` spreads the sends evenly over that time (0: as fast as possible). ``gates``
    maps a message index to an event the publisher waits for (everything before it acknowledged)
    before sending that message; ``gated_s`` is the time spent waiting there.
    ``acked`` counts acknowledged messages; ``offsets[i]`` is the offset of message ``i``.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        plan: Sequence[Outgoing],
        *,
        duration_s: float = 0.0,
        gates: dict[int, threading.Event] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.plan = list(plan)
        self.duration_s = duration_s
        self.gates = dict(gates or {})
        self.gated_s = 0.0
        self.acked = 0
        self.offsets: list[int] = []
        self.error: BaseException | None = None
        self.elapsed_s = 0.0
        self._thread = threading.Thread(target=self._main, name="fault-publisher", daemon=True)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def run(self) -> Publisher:
        """Send everything in this thread and wait for every acknowledgement."""
        self._main()
        self._raise()
        return self

    def join(self, timeout_s: float) -> Publisher:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"publisher still running after {timeout_s}s ({self.acked} acked)")
        self._raise()
        return self

    def wait_acked(self, n: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acked < n:
            self._raise()
            if time.monotonic() > deadline:
                raise AssertionError(f"publisher: {self.acked} of {n} messages acked after {timeout_s}s")
            time.sleep(0.05)

    def _raise(self) -> None:
        if self.error is not None:
            raise AssertionError(f"publisher failed: {self.error!r}") from self.error

    def _main(self) -> None:
        try:
            asyncio.run(self._send_all())
        except BaseException as exc:  # reported to the test thread by wait_acked / join
            self.error = exc

    async def _send_all(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
            max_batch_size=1 << 20, request_timeout_ms=60_000,
        )  # fmt: skip
        await producer.start()
        started = time.monotonic()
        try:
            pending: list[asyncio.Future[Any]] = []
            n = len(self.plan)
            for i, msg in enumerate(self.plan):
                if i in self.gates:
                    await self._ack(pending)
                    pending = []
                    waited = time.monotonic()
                    while not self.gates[i].is_set():
                        await asyncio.sleep(0.05)
                    self.gated_s += time.monotonic() - waited
                    started += time.monotonic() - waited
                if self.duration_s:
                    ahead = started + self.duration_s * i / n - time.monotonic()
                    if ahead > 0:
                        await self._ack(pending)
                        pending = []
                        await asyncio.sleep(ahead)
                pending.append(
                    await producer.send(
                        self.topic, msg.value, key=msg.model.encode(), partition=msg.partition
                    )
                )
                if len(pending) >= 50:
                    await self._ack(pending)
                    pending = []
            await self._ack(pending)
        finally:
            await producer.stop()
        self.elapsed_s = time.monotonic() - started

    async def _ack(self, pending: list[asyncio.Future[Any]]) -> None:
        for meta in await asyncio.gather(*pending):
            self.offsets.append(meta.offset)
        self.acked = len(self.offsets)


def read_partition(bootstrap: str, topic: str, partition: int, last: int) -> list[Message]:
    """The partition's messages at offsets ``0..last``."""
    return asyncio.run(read_range(bootstrap, topic, partition, 0, last))


@dataclass
class Reference:
    """What an uninterrupted worker computes from one partition's messages."""

    state: PartitionState
    alert_ids: set[str] = field(default_factory=set)
    letters: set[tuple[int, int | None, str]] = field(default_factory=set)
    """Dead-lettered items as (source offset, index in batch, reason)."""

    def model_stats(self) -> dict[str, Any]:
        """Per model, the entry of the worker's stats page (same merge code)."""
        models: dict[str, Any] = merge_states([self.state])["models"]
        return models

    def digests(self) -> dict[str, str]:
        return {model: mon.state_digest() for model, mon in self.state.monitors.items()}


def reference(messages: Sequence[Message], spec_for: SpecLookup, *, chunk: int = 500) -> Reference:
    """Run ``messages`` (one partition, offset order) the ingest agent's way, in chunks of
    ``chunk`` messages, with one state that is never interrupted."""
    first = messages[0].coord
    ref = Reference(PartitionState(topic=first.topic, partition=first.partition))
    state = ref.state
    now = datetime.now(UTC)
    for i, m in enumerate(messages):
        decoded = decode(m.value, now=now, limits=_NO_SKEW)
        hint = model_hint(m.key, m.value) if decoded.rejects else None
        state.apply(m.coord.offset, decoded.events, [r.reason for r in decoded.rejects], decoded.ticks,
                    reject_model=hint)  # fmt: skip
        ref.letters |= {(m.coord.offset, r.index, r.reason) for r in decoded.rejects}
        if (i + 1) % chunk == 0 or i + 1 == len(messages):
            ref.alert_ids |= {a.id for a in state.take_alerts()}
            for _, out in state.run_monitors(spec_for):
                ref.alert_ids |= {a.id for a in out.alerts}
                ref.letters |= {(rec.coord.offset, None, "late") for rec in out.late}
    return ref


@dataclass
class Settled:
    """What the live workers serve once they hold every input partition up to the wanted offsets."""

    offsets: dict[str, int]
    """Per input partition key: the last applied offset."""
    owner: dict[str, int]
    """Per input partition key: the index (in ``workers``) of the worker holding it."""
    models: dict[str, Any]
    digests: dict[str, dict[str, str]]
    """Per input partition key, per model: the monitor's state digest."""
    rejects: dict[str, int]
    accepted: int
    skipped_replays: int


def _stats(w: WorkerProcess) -> dict[str, Any] | None:
    if w.proc is None or w.proc.poll() is not None:
        return None
    return w.stats()


def settle(
    workers: Sequence[WorkerProcess],
    want: dict[str, int],
    *,
    timeout_s: float,
    on_wait: Callable[[], None] | None = None,
) -> Settled:
    """Poll the live workers until each key of ``want`` is held by exactly one of them with a last
    applied offset ``>= want[key]``, and that view is the same before and after reading the
    monitor digests; the answer combines the workers' pages."""
    deadline = time.monotonic() + timeout_s
    last: dict[int, Any] = {}
    while time.monotonic() < deadline:
        if on_wait is not None:
            on_wait()
        first = _view(workers)
        last = first
        if _complete(first, want):
            digests: dict[str, dict[str, str]] = {}
            try:
                for i in first:
                    page = workers[i].get("/glasswatch/monitors/")
                    for key, models in page.items():
                        digests[key] = {m: v["digest"] for m, v in models.items()}
            except OSError:
                time.sleep(0.5)
                continue
            second = _view(workers)
            if _offsets(second) == _offsets(first):
                return _combine(first, digests)
        time.sleep(0.3)
    seen = {i: {"partitions": s["partitions"], "accepted": s["accepted"]} for i, s in last.items()}
    tails = "\n".join(f"--- worker {i}\n{w.log_tail(15)}" for i, w in enumerate(workers))
    raise AssertionError(f"workers did not settle in {timeout_s}s; want {want}, last {seen}\n{tails}")


def _view(workers: Sequence[WorkerProcess]) -> dict[int, Any]:
    return {i: s for i, w in enumerate(workers) if (s := _stats(w)) is not None}


def _offsets(view: dict[int, Any]) -> dict[tuple[int, str], int]:
    return {(i, key): p["last_offset"] for i, s in view.items() for key, p in s["partitions"].items()}


def _complete(view: dict[int, Any], want: dict[str, int]) -> bool:
    holders: dict[str, list[int]] = {}
    for (_i, key), offset in _offsets(view).items():
        if offset >= 0:
            holders.setdefault(key, []).append(offset)
    return all(len(holders.get(k, [])) == 1 and holders[k][0] >= v for k, v in want.items()) and all(
        len(v) == 1 for v in holders.values()
    )


def _combine(view: dict[int, Any], digests: dict[str, dict[str, str]]) -> Settled:
    out = Settled(offsets={}, owner={}, models={}, digests=digests, rejects={}, accepted=0, skipped_replays=0)
    for i, s in view.items():
        for key, p in s["partitions"].items():
            out.offsets[key] = p["last_offset"]
            out.owner[key] = i
        for model, entry in s["models"].items():
            assert model not in out.models, f"model {model} served by two workers"
            out.models[model] = entry
        for reason, n in s["rejects"].items():
            out.rejects[reason] = out.rejects.get(reason, 0) + n
        out.accepted += s["accepted"]
        out.skipped_replays += s["worker"]["skipped_replays"]
    return out


# --- a private broker to SIGKILL (the shared one is never touched) -----------------------------


def start_private_broker(workdir: Path) -> Any:
    """A started ``LocalKafka`` on a free port under ``workdir`` (stopped with the test process);
    call ``.stop()`` when done and ``.start()`` to restart it on the same port and data dir."""
    from kafka_helpers import load_local_kafka

    local_kafka = load_local_kafka()
    for attempt in range(2):  # the free port may be taken between choosing it and the JVM binding it
        kafka = local_kafka.LocalKafka(port=0, workdir=workdir / f"kafka{attempt}", stop_with_parent=True)
        try:
            kafka.start()
            return kafka
        except local_kafka.KafkaStartError:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def broker_pid(workdir: Path) -> int:
    """The pid of the broker JVM started from ``workdir`` (its command line names the config there)."""
    found = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(a == "kafka.Kafka" for a in p.info["cmdline"] or ())
        and any(str(workdir) in a for a in p.info["cmdline"] or ())
    ]
    assert len(found) == 1, f"broker JVMs under {workdir}: {found}"
    return found[0]


def sigkill_and_reap(pid: int) -> None:
    """SIGKILL ``pid`` and wait until it is gone (reaped when it is our child)."""
    os.kill(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)  # our child (LocalKafka's Popen): reap it, or it lingers as a zombie
    except ChildProcessError:
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.05)
