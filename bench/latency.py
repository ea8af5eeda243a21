"""End-to-end latency: publish → window summary and publish → alert, against raw produce → consume.

For each rate (default 1,000 and 5,000 events/s) a producer publishes batch envelopes every
``--tick-ms`` (20 ms: 20 events at 1k/s, 100 at 5k/s) whose events carry the wall-clock time as
event time, to a real ``glasswatch worker`` (one partition, 1 s tumbling windows, a static band on
feature ``x``). At a known event ``x`` jumps far outside the band.

* **window latency**: for every window summary read back from the windows topic, the time it was
  seen minus the publish time of the first envelope whose events reach the window's end (the
  message that closed it): the time the window spent open (window-close time) is excluded.
  ``slowest_windows`` names the three slowest: when they closed (seconds since the first
  publish), whether the injected change (and so the alert) was there, and the gap since the
  previous summary (to tell a stalled worker from a slow window).
* **alert latency**: the same for the ``threshold_static`` alert of the window holding the
  injected change, read from the alerts topic.
* **raw**: the same producer at the same rate into a topic read by a bare aiokafka consumer:
  publish → consume per envelope, the floor for anything on this broker.

Target (issue 14): p99 ≤ raw p99 + one batch linger (the worker's ``take_events`` ``within``,
0.25 s) + 50 ms. Prints one JSON document with p50/p99 per rate and the load average.

``worker_cpu_per_s``: the worker's CPU seconds per second of publishing (every thread; 1.0 is one
core busy), to tell a worker that runs out of CPU from one that waits.

Usage: ``uv run python bench/latency.py [--rates 1000,5000] [--seconds 20]``; needs
``GLASSWATCH_KAFKA_BOOTSTRAP`` (a running broker). ``--worker-env NAME=VALUE`` (repeatable) adds to
the worker's environment (e.g. ``GLASSWATCH_WORKER__LABELS=false`` to leave the label join out);
``--profile DIR`` records the worker with py-spy while it is fed (``DIR/worker-<rate>.txt``,
collapsed stacks; py-spy from PATH or ``uvx``, never a project dependency). Measured 2026-11
(issue 14): the worker waits more than it computes — see the README's Latency bullet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

LINGER_S = 0.25
"""The worker's ``take_events`` linger (:func:`glasswatch.agents.ingest.attach_ingest`)."""
SPEC = """model: lat
window: {size_seconds: 1}
anomaly: {enabled: false}
signals:
  "feature:x:mean": {static: {upper: 50}}
"""


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": _pct(values, 0.5),
        "p99_ms": _pct(values, 0.99),
        "max_ms": _pct(values, 1.0),
    }


async def _publish(
    bootstrap: str, topic: str, rate: int, seconds: float, tick_s: float, inject_at: float | None
) -> list[tuple[float, datetime, datetime]]:
    """Envelopes at a fixed rate; returns (publish time, first and last event time) per envelope."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent: list[tuple[float, datetime, datetime]] = []
    per = max(1, round(rate * tick_s))
    start, i = time.perf_counter(), 0
    try:
        while (elapsed := time.perf_counter() - start) < seconds:
            now = datetime.now(UTC)
            x = 100.0 if inject_at is not None and elapsed >= inject_at else 1.0
            events = [
                {
                    "type": "prediction",
                    "model": "lat",
                    "model_version": "1",
                    "prediction_id": f"p{i}-{j}",
                    "event_time": now.isoformat(),
                    "features": {"x": x + (j % 3) * 0.1},
                    "prediction": 0.5,
                }
                for j in range(per)
            ]
            value = orjson.dumps({"schema_version": 1, "type": "batch", "events": events})
            sent.append((time.time(), now, now))
            await producer.send(topic, value, key=b"lat", partition=0)
            i += 1
            await asyncio.sleep(max(0.0, start + i * tick_s - time.perf_counter()))
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def _follow(bootstrap: str, topics: list[str], stop: asyncio.Event) -> list[tuple[float, str, bytes]]:
    """Every record of ``topics`` from now on, with the wall time it was seen."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="latest", enable_auto_commit=False
    )
    await consumer.start()
    seen: list[tuple[float, str, bytes]] = []
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            for tp, msgs in batch.items():
                for m in msgs:
                    seen.append((time.time(), tp.topic, m.value))
    finally:
        await consumer.stop()
    return seen


async def _raw(bootstrap: str, rate: int, seconds: float, tick_s: float) -> list[float]:
    from kafka_helpers import create_topic

    topic = f"bench-lat-raw-{uuid.uuid4().hex[:6]}"
    await create_topic(bootstrap, topic, 1)
    stop = asyncio.Event()
    follower = asyncio.create_task(_follow(bootstrap, [topic], stop))
    await asyncio.sleep(3.0)  # the consumer is assigned and positioned at the end
    sent = await _publish(bootstrap, topic, rate, seconds, tick_s, None)
    await asyncio.sleep(1.0)
    stop.set()
    seen = await follower
    return [t - s[0] for (t, _, _), s in zip(seen, sent, strict=False)]


def _closing(sent: list[tuple[float, datetime, datetime]], end: datetime) -> float | None:
    """Publish time of the first envelope whose events reach ``end`` (the one that closed it)."""
    for published, _, last in sent:
        if last >= end:
            return published
    return None


def _spy(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (``py-spy`` on PATH, else ``uvx py-spy``: never a project dependency) recording the
    worker ``pid`` for ``seconds`` into ``out``, collapsed stacks (one per line with its sample
    count; ``flamegraph.pl`` or speedscope draw them), idle frames included, without pausing it."""
    spy = shutil.which("py-spy")
    cmd = [spy] if spy else ["uvx", "py-spy"] if shutil.which("uvx") else None
    if cmd is None:
        print("--profile: neither py-spy nor uvx on PATH; not profiled", file=sys.stderr)
        return None
    args = ["record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100", "--idle"]
    args += ["--nonblocking", "--format", "raw", "-o", str(out)]
    return subprocess.Popen([*cmd, *args], stdout=subprocess.DEVNULL, stderr=sys.stderr)


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, every thread) process ``pid`` used so far (psutil)."""
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(t.user + t.system)


def _glasswatch(
    bootstrap: str,
    rate: int,
    seconds: float,
    tick_s: float,
    workdir: Path,
    profile: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    from worker_process import WorkerProcess

    from glasswatch.kafka.admin import ensure_topics, glasswatch_topics

    w = WorkerProcess(bootstrap, workdir, partitions=1)
    workdir.mkdir(parents=True, exist_ok=True)
    spec = workdir / "lat.yaml"
    spec.write_text(SPEC)
    w.extra_env["GLASSWATCH_WORKER__MONITOR_SPECS"] = str(spec)
    w.extra_env.update(env or {})
    asyncio.run(ensure_topics(bootstrap, glasswatch_topics(w.settings)))
    w.start()
    try:
        w.wait_for(lambda s: s is not None, timeout_s=180)
        topics = w.settings.topics

        async def run() -> tuple[list[tuple[float, datetime, datetime]], list[tuple[float, str, bytes]]]:
            stop = asyncio.Event()
            follower = asyncio.create_task(_follow(bootstrap, [topics.windows, topics.alerts], stop))
            await asyncio.sleep(3.0)
            if profile is not None and w.proc is not None:
                spies.append(_spy(w.proc.pid, profile / f"worker-{rate}.txt", seconds))
            cpu0 = _cpu_s(pid)
            sent = await _publish(bootstrap, topics.predictions, rate, seconds, tick_s, seconds * 0.6)
            cpu1 = _cpu_s(pid)
            if cpu0 is not None and cpu1 is not None:
                cpu.append(round((cpu1 - cpu0) / seconds, 2))
            await asyncio.sleep(3.0)
            stop.set()
            return sent, await follower

        spies: list[subprocess.Popen[bytes] | None] = []
        cpu: list[float] = []  # the worker's CPU seconds per second of publishing
        pid = w.proc.pid if w.proc is not None else -1
        sent, seen = asyncio.run(run())
        for spy in spies:
            if spy is not None:
                spy.wait(60)
    finally:
        w.stop()
    warm = sent[0][1] + timedelta(seconds=3)  # windows wholly after the worker caught up
    windows: list[float] = []
    alerts: list[float] = []
    slow: list[dict[str, Any]] = []
    first = sent[0][0]
    for t, topic, value in seen:
        doc = orjson.loads(value)
        if topic == topics.windows:
            start, end = datetime.fromisoformat(doc["start"]), datetime.fromisoformat(doc["end"])
            closing = _closing(sent, end)
            if closing is not None and start >= warm:  # windows wholly inside the run
                windows.append(t - closing)
                slow.append(
                    {
                        "ms": round(1000 * (t - closing), 1),
                        "closed_at_s": round(closing - first, 2),  # since the first publish
                        "window_end": doc["end"],
                        "seen_after_previous_ms": None,
                    }
                )
        elif doc.get("kind") == "threshold_static" and doc.get("status") == "firing":
            end_text = doc.get("evidence", {}).get("window_end")
            closing = _closing(sent, datetime.fromisoformat(end_text)) if end_text else None
            if closing is not None:
                alerts.append(t - closing)
    seen_windows = sorted(t for t, topic, _ in seen if topic == topics.windows)
    for w in slow:  # how long the windows topic had been silent before this summary
        t = first + w["closed_at_s"] + w["ms"] / 1000
        before = [x for x in seen_windows if x < t - 1e-6]
        w["seen_after_previous_ms"] = round(1000 * (t - before[-1]), 1) if before else None
    alert_at = [first + seconds * 0.6]
    slow.sort(key=lambda w: -w["ms"])
    for w in slow[:3]:
        w["alert_window"] = abs(first + w["closed_at_s"] - alert_at[0]) < 1.5
    return {
        "windows": _summary(windows),
        "alerts": _summary(alerts),
        "worker_cpu_per_s": cpu[0] if cpu else None,
        "slowest_windows": slow[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="1000,5000")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tick-ms", type=float, default=20.0)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="record the worker with py-spy into DIR (worker-<rate>.txt)",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the worker, e.g. GLASSWATCH_WORKER__LABELS=false",
    )
    args = parser.parse_args()
    env = dict(kv.split("=", 1) for kv in args.worker_env)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    bootstrap = os.environ["GLASSWATCH_KAFKA_BOOTSTRAP"]
    tick_s = args.tick_ms / 1000
    workdir = Path(tempfile.mkdtemp(prefix="gw-latency-"))
    out: dict[str, Any] = {
        "benchmark": "latency",
        "load_average": {"before": [round(x, 2) for x in os.getloadavg()]},
        "linger_s": LINGER_S,
        "worker_env": env,
        "rates": {},
    }
    for rate in (int(r) for r in args.rates.split(",")):
        raw = _summary(asyncio.run(_raw(bootstrap, rate, args.seconds, tick_s)))
        gw = _glasswatch(bootstrap, rate, args.seconds, tick_s, workdir / str(rate), args.profile, env)
        budget = (raw["p99_ms"] or 0) + 1000 * LINGER_S + 50
        out["rates"][str(rate)] = {
            "raw": raw,
            **gw,
            "target_p99_ms": round(budget, 1),
            "met": {
                k: gw[k]["p99_ms"] is not None and gw[k]["p99_ms"] <= budget for k in ("windows", "alerts")
            },
        }
    out["load_average"]["after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
