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

Usage: ``uv run python bench/scale.py [--events 120000] [--workers 1,2,3]``; needs
``GLASSWATCH_KAFKA_BOOTSTRAP``. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


async def _publish(bootstrap: str, topic: str, per_partition: int) -> dict[int, int]:
    from aiokafka import AIOKafkaProducer

    from glasswatch.testing.traffic import TrafficGenerator

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=1 << 20
    )
    await producer.start()
    start = datetime.now(UTC) - timedelta(hours=2)
    futs = []
    try:
        for p in range(PARTITIONS):
            gen = TrafficGenerator(model=f"m{p}", seed=p, start=start, rate_per_s=1000)
            docs = list(gen.events(per_partition))
            for i in range(0, len(docs), 500):
                env = orjson.dumps({"schema_version": 1, "type": "batch", "events": docs[i : i + 500]})
                futs.append(await producer.send(topic, env, key=f"m{p}".encode(), partition=p))
        await asyncio.gather(*futs)
    finally:
        await producer.stop()
    return dict.fromkeys(range(PARTITIONS), per_partition)


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


def _cpu(workers: list[Any]) -> float:
    total = 0.0
    for w in workers:
        t = psutil.Process(w.proc.pid).cpu_times()
        total += t.user + t.system
    return total


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
    for w in starting:
        w.start()
    try:
        for w in starting:
            w.wait_for(lambda s: s is not None, timeout_s=240)
        time.sleep(8.0)  # the group has settled (assignment, table recovery)
        cpu0, t0 = _cpu(starting), time.perf_counter()
        per = events // PARTITIONS
        published = asyncio.run(_publish(bootstrap, first.settings.topics.predictions, per))
        total = sum(published.values())
        joined = False
        deadline = time.monotonic() + 900
        while (done := _accepted(workers if joined else starting)) < total and time.monotonic() < deadline:
            if join_midway and not joined and done >= total // 2:
                workers[1].start()
                joined = True
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        running = workers if (joined or not join_midway) else starting
        cpu = _cpu(running) - cpu0
        time.sleep(3.0)  # a double count would show as more than published
        held = _holdings(running)
        return {
            "workers": n_workers,
            "events": total,
            "seconds": round(seconds, 2),
            "events_per_s": round(total / seconds, 1),
            "cpu_seconds": round(cpu, 2),
            "events_per_cpu_s": round(total / cpu, 1) if cpu > 0 else None,
            "per_partition": {k: acc for k, (_, acc) in sorted(held.items())},
            "exact": len(held) == PARTITIONS and all(acc == per for _, acc in held.values()),
            "joined_midway": joined,
        }
    finally:
        for w in workers:
            w.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--no-rebalance", action="store_true")
    args = parser.parse_args()
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
    if not args.no_rebalance:
        out["rebalance"] = _run(bootstrap, 2, args.events, workdir / "rebalance", join_midway=True)
    out["load_average"]["after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
