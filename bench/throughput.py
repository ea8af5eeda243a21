"""Ingest throughput, measured as ratios in one run on one broker.

Variants, each consuming the same events from the beginning of a topic of its own kind:

* ``raw_aiokafka``        aiokafka ``getmany`` + ``json.loads`` of single-event messages (the ceiling,
                          as the throughput issue defines it); ``raw_aiokafka_orjson`` for reference
* ``faust_trivial``       a Faust agent that only decodes JSON, per message (``async for value in stream``)
* ``faust_trivial_take``  the same with ``stream.take_events`` batching (the floor glasswatch builds on)
* ``glasswatch_single``   glasswatch ingest (validate + River stats + state table) on single-event messages
* ``glasswatch_batch``    the same on batch envelopes of 500 events (the fast path)
* ``glasswatch_batch_monitors`` the same with every online monitor on (windows, static and learned
                          thresholds, ADWIN/Page-Hinkley, half-space-tree anomaly scoring)

Each Faust variant runs in its own process (``bench/faust_runner.py``); time is measured from the
first message processed to the last, so start-up and rebalancing are excluded everywhere.

Usage: ``uv run python bench/throughput.py [--events 50000]``; uses ``GLASSWATCH_KAFKA_BOOTSTRAP``
or starts a private local broker. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


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


async def _raw_consume(bootstrap: str, topic: str, expected: int, loads: Any = json.loads) -> float:
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
        n, t0 = 0, None
        while n < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for msgs in batch.values():
                if t0 is None:
                    t0 = time.perf_counter()
                for m in msgs:
                    loads(m.value)
                n += len(msgs)
        assert t0 is not None
        return time.perf_counter() - t0
    finally:
        await consumer.stop()


def _faust(mode: str, topic: str, expected: int, bootstrap: str, workdir: Path) -> float:
    result = workdir / f"{mode}-{uuid.uuid4().hex[:6]}.json"
    env = {
        **os.environ,
        "GLASSWATCH_KAFKA_BOOTSTRAP": bootstrap,
        "BENCH_DIR": str(workdir),
        "BENCH_OUT": str(result),
    }
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "faust_runner.py"), mode, topic, str(expected)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.exists():
        return float(json.loads(result.read_text())["seconds"])
    raise RuntimeError(f"{mode} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch envelope")
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
        seconds = {
            "raw_aiokafka": asyncio.run(_raw_consume(bootstrap, single, n)),
            "raw_aiokafka_orjson": asyncio.run(_raw_consume(bootstrap, single, n, orjson.loads)),
            "faust_trivial": _faust("trivial", single, n, bootstrap, workdir),
            "faust_trivial_take": _faust("trivial-take", single, n, bootstrap, workdir),
            "glasswatch_single": _faust("glasswatch", single, n, bootstrap, workdir),
            "glasswatch_batch": _faust("glasswatch", batched, n, bootstrap, workdir),
            "glasswatch_batch_monitors": _faust("glasswatch-monitors", batched, n, bootstrap, workdir),
        }
    finally:
        if kafka is not None:
            kafka.stop()
    eps = {k: round(n / v, 1) for k, v in seconds.items()}
    result = {
        "benchmark": "throughput",
        "events": n,
        "messages": {"single": msgs_single, "batch": msgs_batch, "events_per_envelope": args.batch},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "events_per_s": eps,
        "ratios": {
            "glasswatch_single_vs_faust_trivial": round(eps["glasswatch_single"] / eps["faust_trivial"], 3),
            "glasswatch_single_vs_faust_trivial_take": round(
                eps["glasswatch_single"] / eps["faust_trivial_take"], 3
            ),
            "glasswatch_batch_vs_raw_aiokafka": round(eps["glasswatch_batch"] / eps["raw_aiokafka"], 3),
            "glasswatch_batch_vs_raw_aiokafka_orjson": round(
                eps["glasswatch_batch"] / eps["raw_aiokafka_orjson"], 3
            ),
            "glasswatch_batch_monitors_vs_raw_aiokafka": round(
                eps["glasswatch_batch_monitors"] / eps["raw_aiokafka"], 3
            ),
            "faust_trivial_vs_raw_aiokafka": round(eps["faust_trivial"] / eps["raw_aiokafka"], 3),
        },
        "targets": {
            "glasswatch_single_vs_faust_trivial": 0.8,
            "glasswatch_batch_vs_raw_aiokafka": 0.5,
            "glasswatch_batch_monitors_vs_raw_aiokafka": 0.1,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
