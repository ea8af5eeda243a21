"""Ingest throughput, measured as ratios in one run on one broker, repeated in interleaved rounds.

Variants, each consuming the same events from the beginning of a topic of its own kind:

* ``raw_aiokafka``        aiokafka ``getmany`` + ``json.loads`` of single-event messages (the ceiling,
                          as the throughput issue defines it); ``raw_aiokafka_orjson`` for reference
* ``faust_trivial``       a Faust agent that only decodes JSON, per message (``async for value in stream``)
* ``faust_trivial_take``  the same with ``stream.take_events`` batching (the floor glasswatch builds on)
* ``glasswatch_single``   glasswatch ingest (validate + River stats + state table) on single-event messages
* ``glasswatch_batch``    the same on batch envelopes of 500 events (the fast path)
* ``glasswatch_batch_monitors`` the same with every online monitor on (windows, static and learned
                          thresholds, ADWIN/Page-Hinkley, half-space-tree anomaly scoring)
* ``glasswatch_batch_monitors_1msg`` the same, one envelope (500 events) per batch: what a worker
                          sees under moderate live traffic, where per-batch costs count most

``--baseline DIR`` adds every glasswatch variant again, suffixed ``@baseline``, running the
``glasswatch`` package found in ``DIR`` (e.g. ``git archive HEAD glasswatch | tar -x -C DIR``),
in the same rounds: before/after figures under the same load.

Trust on a shared machine: every variant runs ``--rounds`` times (default 3), interleaved (round r
runs all variants, in an order rotated by r, so a neighbour's burst of load hits every variant
alike); a ratio is computed *within* each round and reported as the median and min–max over the
rounds, of events/s and (``per_cpu_s``) of events per CPU-second. Each Faust variant runs in a
fresh process with a fresh app id (no warm state) and reports its CPU seconds and the batch sizes
its agent actually saw (``take_events`` returns what the fetcher has, so batch sizes depend on
timing; the per-batch costs multiply with the number of batches).
The load average is recorded before and after each round.

``--profile PATH`` runs one extra, untimed pass of ``glasswatch_batch_monitors`` (and
``glasswatch_batch``) under cProfile: ``PATH-<variant>.prof`` and a ``.txt`` summary.

Each Faust variant runs in its own process (``bench/faust_runner.py``); time is measured from the
first message processed to the last, so start-up and rebalancing are excluded everywhere.

Usage: ``uv run python bench/throughput.py [--events 50000] [--rounds 3] [--profile /tmp/gw]``;
uses ``GLASSWATCH_KAFKA_BOOTSTRAP`` or starts a private local broker. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

RATIOS: dict[str, tuple[str, str, float | None]] = {
    "glasswatch_single_vs_faust_trivial": ("glasswatch_single", "faust_trivial", 0.8),
    "glasswatch_single_vs_faust_trivial_take": ("glasswatch_single", "faust_trivial_take", None),
    "glasswatch_batch_vs_raw_aiokafka": ("glasswatch_batch", "raw_aiokafka", 0.5),
    "glasswatch_batch_vs_raw_aiokafka_orjson": ("glasswatch_batch", "raw_aiokafka_orjson", None),
    "glasswatch_batch_monitors_vs_raw_aiokafka": ("glasswatch_batch_monitors", "raw_aiokafka", 0.25),
    "faust_trivial_vs_raw_aiokafka": ("faust_trivial", "raw_aiokafka", None),
    "faust_trivial_take_vs_raw_aiokafka": ("faust_trivial_take", "raw_aiokafka", None),
    "glasswatch_batch_monitors_1msg_vs_raw_aiokafka": (
        "glasswatch_batch_monitors_1msg",
        "raw_aiokafka",
        0.25,
    ),
}
"""name → (numerator variant, denominator variant, target or None)."""


async def _produce(bootstrap: str, topic: str, docs: list[dict[str, Any]], batch: int) -> int:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=1 << 20,
    )
    await producer.start()
    try:
        futs = []
        if batch == 1:
            for d in docs:
                futs.append(await producer.send(topic, orjson.dumps(d), key=b"bench"))
        else:
            for i in range(0, len(docs), batch):
                env = {"schema_version": 1, "type": "batch", "events": docs[i : i + batch]}
                futs.append(await producer.send(topic, orjson.dumps(env), key=b"bench"))
        await asyncio.gather(*futs)
        return len(futs)
    finally:
        await producer.stop()


async def _raw_consume(
    bootstrap: str, topic: str, expected: int, loads: Callable[[bytes], Any] = json.loads
) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=16 << 20,
    )
    await consumer.start()
    try:
        n, t0, cpu0, sizes = 0, 0.0, 0.0, []
        while n < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for msgs in batch.values():
                if not n:
                    t0, cpu0 = time.perf_counter(), time.process_time()
                for m in msgs:
                    loads(m.value)
                n += len(msgs)
                sizes.append(len(msgs))
        return {
            "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - cpu0,
            "batches": {"n": len(sizes), "messages": {"min": min(sizes), "max": max(sizes)}},
        }
    finally:
        await consumer.stop()


def _faust(
    mode: str,
    topic: str,
    expected: int,
    bootstrap: str,
    workdir: Path,
    profile: Path | None = None,
    *,
    take: int = 2000,
    src: Path | None = None,
) -> dict[str, Any]:
    result = workdir / f"{mode}-{uuid.uuid4().hex[:6]}.json"
    env = {
        **os.environ,
        "GLASSWATCH_KAFKA_BOOTSTRAP": bootstrap,
        "BENCH_DIR": str(workdir),
        "BENCH_OUT": str(result),
        "BENCH_TAKE": str(take),
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile)
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "faust_runner.py"), mode, topic, str(expected)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.exists():
        doc: dict[str, Any] = json.loads(result.read_text())
        return doc
    raise RuntimeError(f"{mode} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")


def _spread(values: list[float], digits: int = 3) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch envelope")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", default="", help="a name for this run (e.g. before/after)")
    parser.add_argument("--profile", type=Path, default=None, help="path prefix of cProfile dumps")
    parser.add_argument("--only", default="", help="comma-separated variants (default: all)")
    parser.add_argument("--baseline", type=Path, default=None, help="a glasswatch source tree to compare")
    args = parser.parse_args()
    n = args.events

    from kafka_helpers import create_topic, load_local_kafka

    from glasswatch.testing.traffic import TrafficGenerator

    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    bootstrap = os.environ.get("GLASSWATCH_KAFKA_BOOTSTRAP", "")
    kafka = None
    if not bootstrap:
        kafka = load_local_kafka().LocalKafka(port=0, workdir=workdir / "kafka")
        kafka.start()
        bootstrap = kafka.bootstrap
    load_before = _load()
    rounds: list[dict[str, Any]] = []
    profiles: dict[str, str] = {}
    try:
        gen = TrafficGenerator(
            model="bench", seed=1, start=datetime.now(UTC) - timedelta(hours=1), rate_per_s=1000
        )
        docs = list(gen.events(n))
        tag = uuid.uuid4().hex[:6]
        single, batched = f"bench-single-{tag}", f"bench-batch-{tag}"
        for t in (single, batched):
            asyncio.run(create_topic(bootstrap, t, 1))
        msgs_single = asyncio.run(_produce(bootstrap, single, docs, 1))
        msgs_batch = asyncio.run(_produce(bootstrap, batched, docs, args.batch))
        variants: dict[str, Callable[[], dict[str, Any]]] = {
            "raw_aiokafka": lambda: asyncio.run(_raw_consume(bootstrap, single, n)),
            "raw_aiokafka_orjson": lambda: asyncio.run(_raw_consume(bootstrap, single, n, orjson.loads)),
            "faust_trivial": lambda: _faust("trivial", single, n, bootstrap, workdir),
            "faust_trivial_take": lambda: _faust("trivial-take", single, n, bootstrap, workdir),
            "glasswatch_single": lambda: _faust("glasswatch", single, n, bootstrap, workdir),
            "glasswatch_batch": lambda: _faust("glasswatch", batched, n, bootstrap, workdir),
            "glasswatch_batch_monitors": lambda: _faust(
                "glasswatch-monitors", batched, n, bootstrap, workdir
            ),
            "glasswatch_batch_monitors_1msg": lambda: _faust(
                "glasswatch-monitors", batched, n, bootstrap, workdir, take=1
            ),
        }
        if args.baseline is not None:
            base = args.baseline.resolve()
            gw_modes = {
                "glasswatch_single": ("glasswatch", single, 2000),
                "glasswatch_batch": ("glasswatch", batched, 2000),
                "glasswatch_batch_monitors": ("glasswatch-monitors", batched, 2000),
                "glasswatch_batch_monitors_1msg": ("glasswatch-monitors", batched, 1),
            }
            for name, (mode, topic, take) in gw_modes.items():
                variants[f"{name}@baseline"] = lambda mode=mode, topic=topic, take=take: _faust(
                    mode, topic, n, bootstrap, workdir, take=take, src=base
                )
        if args.only:
            keep = set(args.only.split(","))
            variants = {k: v for k, v in variants.items() if k in keep}
        names = list(variants)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            row: dict[str, Any] = {"round": r + 1, "order": order, "load_before": _load()}
            results = {name: variants[name]() for name in order}
            row["load_after"] = _load()
            row["results"] = {k: results[k] for k in names}
            rounds.append(row)
        if args.profile is not None:
            for name, (mode, topic) in {
                "glasswatch_batch_monitors": ("glasswatch-monitors", batched),
                "glasswatch_batch": ("glasswatch", batched),
            }.items():
                path = Path(f"{args.profile}-{name}.prof")
                _faust(mode, topic, n, bootstrap, workdir, profile=path)
                profiles[name] = str(path)
    finally:
        if kafka is not None:
            kafka.stop()
    names = list(rounds[0]["results"]) if rounds else []
    eps = {k: [n / row["results"][k]["seconds"] for row in rounds] for k in names}
    eps_cpu = {k: [n / row["results"][k]["cpu_seconds"] for row in rounds] for k in names}
    ratios: dict[str, Any] = {}
    pairs = dict(RATIOS)
    for name, (num, den, target) in RATIOS.items():
        if num.startswith("glasswatch"):
            pairs[f"{name}@baseline"] = (f"{num}@baseline", den, target)
    for name, (num, den, target) in pairs.items():
        if num in eps and den in eps:
            per_round = [a / b for a, b in zip(eps[num], eps[den], strict=True)]
            per_cpu = [a / b for a, b in zip(eps_cpu[num], eps_cpu[den], strict=True)]
            ratios[name] = {**_spread(per_round), "per_cpu_s": _spread(per_cpu), "target": target}
            if target is not None:
                ratios[name]["met"] = statistics.median(per_round) >= target
                ratios[name]["met_per_cpu_s"] = statistics.median(per_cpu) >= target
    ours: dict[str, Any] = {}
    for k in names:
        busy = [row["results"][k].get("busy_seconds") for row in rounds]
        if all(b is not None for b in busy):
            secs = [row["results"][k]["seconds"] for row in rounds]
            ours[k] = _spread([b / s for b, s in zip(busy, secs, strict=True)])
    result = {
        "benchmark": "throughput",
        "label": args.label,
        "events": n,
        "rounds": args.rounds,
        "messages": {"single": msgs_single, "batch": msgs_batch, "events_per_envelope": args.batch},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": {"before": load_before, "after": _load()},
        "events_per_s": {k: _spread(v, 1) for k, v in eps.items()},
        "events_per_cpu_s": {k: _spread(v, 1) for k, v in eps_cpu.items()},
        "ratios": ratios,
        "share_in_process_batch": ours,
        "batches_seen": {k: [row["results"][k].get("batches") for row in rounds] for k in names},
        "per_round": [
            {
                "round": row["round"],
                "order": row["order"],
                "load_before": row["load_before"],
                "load_after": row["load_after"],
                "events_per_s": {k: round(n / row["results"][k]["seconds"], 1) for k in names},
            }
            for row in rounds
        ],
        "profiles": profiles,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
