"""Scale-out: 1, 2 and 3 workers in one consumer group over 6 partitions and 6 models.

For each worker count a fresh app (topics, group, state) is started with N real ``glasswatch
worker`` processes; once they are up, ``--events`` events (envelopes of 500, model ``m<i>`` in
partition ``i``) are published and the time until every event is accepted is measured, with the
CPU seconds the workers used meanwhile (psutil). Reported: events/s and the ratio N/1 (on a
2-core machine it flattens), and events per CPU-second (the work per event: it should stay within
10 % from 1 to 3 workers).

Then a rebalance run: one worker starts, a second joins when about half of the events are
accepted; at the end every partition's state must hold exactly the events published to it (none
lost, none counted twice), read from the worker that holds it.

What the CPU figure holds (issue 14), reported apart per run so that a drop can be read:

* the envelopes are built before the clock starts (the generator used to run inside the timed
  span, taking a core from the workers); the bench's own CPU (publishing) and the broker's are
  reported (``bench_cpu_seconds``, ``broker_cpu_seconds``), never counted;
* ``idle_cpu_per_s``: each worker's CPU per second with no input, measured before publishing
  (Faust's fetcher, timers, the web server); ``idle_cpu_seconds`` is that times the run's length;
* ``poll_cpu_ms``: what one ``/glasswatch/stats/`` request costs a worker (the bench polls
  every worker every ``POLL_S`` to see the end); ``poll_cpu_seconds`` is that times the polls;
* per worker: CPU, ``process_batch`` time, batches and events per batch (the per-batch costs);
* ``events_per_cpu_s_net``: events over the workers' CPU less idle and polling.

``--contention`` runs the workers' per-event work without Kafka (decode, statistics, every
monitor; one process per copy, 1, 2 and 3 copies at once) and reports the CPU seconds per event
of each copy: what sharing 2 cores costs per CPU-second, whatever glasswatch does.

Usage: ``uv run python bench/scale.py [--events 120000] [--workers 1,2,3] [--contention]``; needs
``GLASSWATCH_KAFKA_BOOTSTRAP``. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

PARTITIONS = 6
POLL_S = 0.5
"""Seconds between two polls of every worker's stats (each poll costs the worker ``poll_cpu_ms``)."""
IDLE_S = 5.0


def _envelopes(per_partition: int, partitions: int = PARTITIONS) -> list[tuple[int, bytes]]:
    """(partition, envelope of 500 events) for model ``m<p>`` in partition ``p``, built up front."""
    from glasswatch.testing.traffic import TrafficGenerator

    start = datetime.now(UTC) - timedelta(hours=2)
    out = []
    for p in range(partitions):
        docs = list(
            TrafficGenerator(model=f"m{p}", seed=p, start=start, rate_per_s=1000).events(per_partition)
        )
        for i in range(0, len(docs), 500):
            out.append((p, orjson.dumps({"schema_version": 1, "type": "batch", "events": docs[i : i + 500]})))
    return out


async def _publish(bootstrap: str, topic: str, envelopes: list[tuple[int, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=1 << 20
    )
    await producer.start()
    try:
        futs = [await producer.send(topic, env, key=f"m{p}".encode(), partition=p) for p, env in envelopes]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


def _broker() -> psutil.Process | None:
    """The local Kafka broker's JVM, if one runs here (its CPU is reported, never counted)."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        if proc.info.get("name") == "java" and "kafka" in cmd.lower():
            return proc
    return None


def _proc_cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system


def _poll_cost(workers: list[Any], polls: int = 10) -> float:
    """CPU milliseconds one stats request costs a worker (mean over ``polls`` per worker)."""
    before = _cpu_each(workers)
    for _ in range(polls):
        for w in workers:
            w.stats()
    after = _cpu_each(workers)
    return 1000 * sum(a - b for a, b in zip(after, before, strict=True)) / (polls * len(workers))


def _holdings(workers: list[Any]) -> dict[str, tuple[int, int]]:
    """partition key → (last offset, accepted) from the worker holding the newest state."""
    held: dict[str, tuple[int, int]] = {}
    for w in workers:
        snap = w.stats() or {}
        for key, part in (snap.get("partitions") or {}).items():
            mine = (part["last_offset"], part["accepted"])
            if key not in held or mine > held[key]:
                held[key] = mine
    return held


def _accepted(workers: list[Any]) -> int:
    return sum(acc for _, acc in _holdings(workers).values())


def _cpu_each(workers: list[Any]) -> list[float]:
    return [_proc_cpu(psutil.Process(w.proc.pid)) for w in workers]


def _run(
    bootstrap: str, n_workers: int, events: int, workdir: Path, *, join_midway: bool = False
) -> dict[str, Any]:
    from worker_process import FAST_GROUP, WorkerProcess

    from glasswatch.kafka.admin import ensure_topics, glasswatch_topics

    for i in range(n_workers):
        (workdir / f"w{i}").mkdir(parents=True, exist_ok=True)
    first = WorkerProcess(bootstrap, workdir / "w0", partitions=PARTITIONS)
    first.extra_env.update({**FAST_GROUP, "GLASSWATCH_WORKER__IDLE_TICK_S": "0"})
    workers = [first] + [first.sibling(workdir / f"w{i}") for i in range(1, n_workers)]
    asyncio.run(ensure_topics(bootstrap, glasswatch_topics(first.settings)))
    starting = workers[:1] if join_midway else workers
    per = events // PARTITIONS
    envelopes = _envelopes(per)
    broker = _broker()
    for w in starting:
        w.start()
    try:
        for w in starting:
            w.wait_for(lambda s: s is not None, timeout_s=240)
        time.sleep(8.0)  # the group has settled (assignment, table recovery)
        idle0, t_idle = _cpu_each(starting), time.perf_counter()
        time.sleep(IDLE_S)  # no input, no polls: what a worker costs doing nothing
        idle_s = time.perf_counter() - t_idle
        idle = [(b - a) / idle_s for a, b in zip(idle0, _cpu_each(starting), strict=True)]
        poll_ms = _poll_cost(starting)
        cpu0, t0 = _cpu_each(starting), time.perf_counter()
        bench0, broker0 = time.process_time(), _proc_cpu(broker)
        asyncio.run(_publish(bootstrap, first.settings.topics.predictions, envelopes))
        total = per * PARTITIONS
        joined = False
        polls = 0
        deadline = time.monotonic() + 900
        while (done := _accepted(workers if joined else starting)) < total and time.monotonic() < deadline:
            polls += len(workers if joined else starting)
            if join_midway and not joined and done >= total // 2:
                workers[1].start()
                joined = True
                cpu0.append(0.0)  # a process started in the span: all of its CPU counts
            time.sleep(POLL_S)
        seconds = time.perf_counter() - t0
        running = workers if (joined or not join_midway) else starting
        polls += len(running)  # the last poll, which saw the end
        each = [b - a for a, b in zip(cpu0, _cpu_each(running), strict=True)]
        cpu = sum(each)
        bench_cpu, broker_cpu = time.process_time() - bench0, _proc_cpu(broker) - broker0
        snaps = [(w.stats() or {}).get("worker", {}) for w in running]
        poll_ms_full = _poll_cost(running)
        time.sleep(3.0)  # a double count would show as more than published
        held = _holdings(running)
        idle_cpu = sum(idle) * seconds
        poll_cpu = polls * poll_ms_full / 1000
        net = cpu - idle_cpu - poll_cpu
        return {
            "workers": n_workers,
            "events": total,
            "seconds": round(seconds, 2),
            "events_per_s": round(total / seconds, 1),
            "cpu_seconds": round(cpu, 2),
            "events_per_cpu_s": round(total / cpu, 1) if cpu > 0 else None,
            "idle_cpu_per_s": [round(x, 4) for x in idle],
            "idle_cpu_seconds": round(idle_cpu, 2),
            "polls": polls,
            "poll_cpu_ms": {"idle": round(poll_ms, 2), "full": round(poll_ms_full, 2)},
            "poll_cpu_seconds": round(poll_cpu, 2),
            "events_per_cpu_s_net": round(total / net, 1) if net > 0 else None,
            "bench_cpu_seconds": round(bench_cpu, 2),
            "broker_cpu_seconds": round(broker_cpu, 2) if broker is not None else None,
            "per_worker": [
                {
                    "cpu_seconds": round(c, 2),
                    "busy_seconds": snap.get("busy_seconds"),
                    "batches": snap.get("batches"),
                    "messages": snap.get("messages"),
                    "events_per_batch": round(500 * snap["messages"] / snap["batches"], 1)
                    if snap.get("batches")
                    else None,
                }
                for c, snap in zip(each, snaps, strict=True)
            ],
            "per_partition": {k: acc for k, (_, acc) in sorted(held.items())},
            "exact": len(held) == PARTITIONS and all(acc == per for _, acc in held.values()),
            "joined_midway": joined,
        }
    finally:
        for w in workers:
            w.stop()


def _work(events: int) -> dict[str, float]:
    """A worker's per-event work without Kafka: decode, statistics and every monitor of ``events``
    events in envelopes of 500, 20 envelopes per batch; CPU seconds per event (this process)."""
    from glasswatch.ingest.validate import Limits, decode
    from glasswatch.monitor.partition import PartitionState

    envelopes = [env for _, env in _envelopes(events, partitions=1)]
    now, limits = datetime.now(UTC), Limits(max_clock_skew_s=86400, max_age_s=30 * 86400)
    state = PartitionState(topic="t", partition=0)
    t0, cpu0 = time.perf_counter(), time.process_time()
    for off, raw in enumerate(envelopes):
        d = decode(raw, now=now, limits=limits)
        state.apply(off, d.events, [r.reason for r in d.rejects], d.ticks)
        if off % 20 == 19:
            state.run_monitors()
    state.run_monitors()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    n = 500 * len(envelopes)
    return {"events": n, "cpu_us_per_event": round(1e6 * cpu / n, 2), "cpu_share": round(cpu / wall, 3)}


def _contention(events: int, copies: tuple[int, ...] = (1, 2, 3)) -> list[dict[str, Any]]:
    """:func:`_work` in ``k`` processes at once, for each ``k``: CPU per event of each copy."""
    import subprocess

    out = []
    for k in copies:
        load = [round(x, 2) for x in os.getloadavg()]
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--work", str(events)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(k)
        ]
        runs = [json.loads(p.communicate()[0]) for p in procs]
        us = sorted(r["cpu_us_per_event"] for r in runs)
        out.append({"copies": k, "load_before": load, "cpu_us_per_event": us,
                    "cpu_share": [r["cpu_share"] for r in runs]})  # fmt: skip
    base = statistics.median(out[0]["cpu_us_per_event"])
    for row in out:
        row["vs_1"] = round(statistics.median(row["cpu_us_per_event"]) / base, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--no-rebalance", action="store_true")
    parser.add_argument(
        "--contention", action="store_true", help="also the per-event work, 1-3 copies at once"
    )
    parser.add_argument("--contention-only", action="store_true", help="only that (no broker needed)")
    parser.add_argument("--contention-events", type=int, default=60_000)
    parser.add_argument("--work", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.work:
        print(json.dumps(_work(args.work)))
        return
    if args.contention_only:
        print(json.dumps({"benchmark": "scale-contention", "cpus": os.cpu_count(),
                          "contention": _contention(args.contention_events)}, indent=2))  # fmt: skip
        return
    bootstrap = os.environ["GLASSWATCH_KAFKA_BOOTSTRAP"]
    workdir = Path(tempfile.mkdtemp(prefix="gw-scale-"))
    out: dict[str, Any] = {
        "benchmark": "scale",
        "partitions": PARTITIONS,
        "cpus": os.cpu_count(),
        "load_average": {"before": [round(x, 2) for x in os.getloadavg()]},
        "runs": [],
    }
    for n in (int(x) for x in args.workers.split(",")):
        out["runs"].append(_run(bootstrap, n, args.events, workdir / f"n{n}"))
    base = out["runs"][0]
    for run in out["runs"]:
        run["throughput_vs_1"] = round(run["events_per_s"] / base["events_per_s"], 3)
        if run["events_per_cpu_s"] and base["events_per_cpu_s"]:
            run["per_cpu_vs_1"] = round(run["events_per_cpu_s"] / base["events_per_cpu_s"], 3)
    if args.contention:
        out["contention"] = _contention(args.contention_events)
    if not args.no_rebalance:
        out["rebalance"] = _run(bootstrap, 2, args.events, workdir / "rebalance", join_midway=True)
    out["load_average"]["after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
