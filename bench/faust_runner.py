"""Subprocess side of bench/throughput.py: one Faust consumer variant over one topic.

Usage: python bench/faust_runner.py MODE TOPIC EXPECTED_EVENTS
MODE: trivial | trivial-take | glasswatch (ingest + stats) | glasswatch-monitors (+ all online monitors)

Writes one JSON line to ``$BENCH_OUT`` (or stdout), measured from the first message processed to
the last (worker start-up and rebalancing excluded, as for the raw consumer)::

    {"mode", "events", "seconds", "cpu_seconds", "batches": {"n", "messages": {...}, "events": {...}},
     "busy_seconds", "profile"}

``cpu_seconds`` is this process's CPU time over the same span (user + system, every thread): on
a shared machine it moves far less with the neighbours' load than the wall time does.
``batches`` is the distribution of the ``take_events`` batches the agent actually saw (messages
and events per batch: min, p10, p50, p90, max, mean). ``busy_seconds`` (glasswatch modes) is the
time spent inside :func:`~glasswatch.agents.ingest.process_batch`; the rest of ``seconds`` is
Faust's (fetching, the stream machinery, committing, the changelog producer) and waiting.

``BENCH_TAKE`` (default 2000) is the most messages per ``take_events`` batch of the glasswatch
modes: ``1`` gives one envelope per batch, as a worker sees moderate live traffic.

With ``BENCH_PROFILE=<path>`` the span is run under cProfile: ``<path>`` gets the pstats dump
and ``<path>.txt`` the top functions by cumulative and by own time.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson


def _dist(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def q(p: float) -> float:
        return float(ordered[min(len(ordered) - 1, int(p * len(ordered)))])

    return {
        "min": float(ordered[0]),
        "p10": q(0.1),
        "p50": q(0.5),
        "p90": q(0.9),
        "max": float(ordered[-1]),
        "mean": round(statistics.fmean(ordered), 1),
    }


def _write_profile(prof: cProfile.Profile, path: Path) -> None:
    prof.dump_stats(str(path))
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(35)
    path.with_name(path.name + ".txt").write_text(text.getvalue())


def main() -> None:
    mode, topic, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bootstrap = os.environ["GLASSWATCH_KAFKA_BOOTSTRAP"]
    profile_path = os.environ.get("BENCH_PROFILE")
    import faust
    from faust.worker import Worker

    tag = uuid.uuid4().hex[:8]
    datadir = Path(os.environ.get("BENCH_DIR", "/tmp")) / f"faust-{tag}"
    state: dict[str, Any] = {"n": 0, "t0": None, "cpu0": 0.0, "msgs": [], "evs": [], "busy": None}
    prof = cProfile.Profile() if profile_path else None

    def start() -> None:
        if state["t0"] is None:
            state["t0"] = time.perf_counter()
            state["cpu0"] = time.process_time()
            if prof is not None:
                prof.enable()

    def done(n: int, messages: int = 1) -> None:
        start()
        state["n"] += n
        if messages > 1 or mode != "trivial":
            state["msgs"].append(messages)
            state["evs"].append(n)
        if state["n"] >= expected:
            secs = time.perf_counter() - state["t0"]
            cpu = time.process_time() - state["cpu0"]
            if prof is not None:
                prof.disable()
                _write_profile(prof, Path(profile_path or ""))
            busy = state["busy"]() if state["busy"] else None
            line = json.dumps(
                {
                    "mode": mode,
                    "events": state["n"],
                    "seconds": secs,
                    "cpu_seconds": cpu,
                    "busy_seconds": busy,
                    "batches": {
                        "n": len(state["msgs"]),
                        "messages": _dist(state["msgs"]),
                        "events": _dist(state["evs"]),
                    },
                    "profile": profile_path,
                }
            )
            out = os.environ.get("BENCH_OUT")
            if out:
                Path(out).write_text(line + "\n")
            else:
                print(line, flush=True)
            os._exit(0)

    if mode in ("glasswatch", "glasswatch-monitors"):
        from glasswatch.agents.ingest import process_batch
        from glasswatch.agents.ingest_metrics import IngestMetrics
        from glasswatch.ingest.validate import Limits
        from glasswatch.kafka.app import create_app
        from glasswatch.settings import KafkaSettings, Settings, TopicSettings, WorkerSettings

        settings = Settings(
            kafka=KafkaSettings(bootstrap=bootstrap, partitions=1),
            topics=TopicSettings(
                predictions=topic, features=f"{topic}-f", labels=f"{topic}-l", dead_letters=f"{topic}-dlq"
            ),
            worker=WorkerSettings(
                app_id=f"bench-gw-{tag}", data_dir=datadir, web_port=16100 + os.getpid() % 800
            ),
        )
        gw = create_app(settings)
        metrics = IngestMetrics()
        limits = Limits(max_clock_skew_s=10 * 86400, max_age_s=3650 * 86400)
        busy0: list[float] = []
        take = int(os.environ.get("BENCH_TAKE", "2000"))

        def busy() -> float:
            return metrics.busy_s - busy0[0]

        state["busy"] = busy

        async def agent(stream: Any) -> None:
            async for events in stream.take_events(take, within=0.05):
                if not busy0:  # the clock starts before the first batch is processed
                    start()
                    busy0.append(metrics.busy_s)
                n = await process_batch(
                    gw, events, limits=limits, metrics=metrics, monitors=mode == "glasswatch-monitors"
                )
                done(n, len(events))

        gw.app.agent(gw.inputs, name="bench.glasswatch")(agent)
        app = gw.app
    else:
        app = faust.App(
            f"bench-{mode}-{tag}",
            broker=f"kafka://{bootstrap}",
            store="memory://",
            datadir=str(datadir),
            web_enabled=False,
            consumer_auto_offset_reset="earliest",
            value_serializer="raw",
            topic_partitions=1,
        )
        src = app.topic(topic, value_serializer="raw")
        if mode == "trivial":

            async def agent(stream: Any) -> None:
                async for value in stream:
                    start()
                    orjson.loads(value)
                    done(1)
        else:

            async def agent(stream: Any) -> None:
                async for events in stream.take_events(2000, within=0.05):
                    start()
                    for ev in events:
                        orjson.loads(ev.value)
                    done(len(events), len(events))

        app.agent(src, name=f"bench.{mode.replace('-', '_')}")(agent)
    Worker(app, loglevel="error", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
