"""Subprocess side of bench/throughput.py: one Faust consumer variant over one topic.

Usage: python bench/faust_runner.py MODE TOPIC EXPECTED_EVENTS
MODE: trivial | trivial-take | glasswatch (ingest + stats) | glasswatch-monitors (+ all online monitors)
Prints one JSON line: {"mode", "events", "seconds"} measured from the first message processed to
the last (worker start-up and rebalancing excluded, as for the raw consumer).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson


def main() -> None:
    mode, topic, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bootstrap = os.environ["GLASSWATCH_KAFKA_BOOTSTRAP"]
    import faust
    from faust.worker import Worker

    tag = uuid.uuid4().hex[:8]
    datadir = Path(os.environ.get("BENCH_DIR", "/tmp")) / f"faust-{tag}"
    state: dict[str, Any] = {"n": 0, "t0": None}

    def done(n: int) -> None:
        state["n"] += n
        if state["t0"] is None:
            state["t0"] = time.perf_counter()
        if state["n"] >= expected:
            secs = time.perf_counter() - state["t0"]
            line = json.dumps({"mode": mode, "events": state["n"], "seconds": secs})
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

        async def agent(stream: Any) -> None:
            async for events in stream.take_events(2000, within=0.05):
                done(
                    await process_batch(
                        gw, events, limits=limits, metrics=metrics, monitors=mode == "glasswatch-monitors"
                    )
                )

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
                    orjson.loads(value)
                    done(1)
        else:

            async def agent(stream: Any) -> None:
                async for events in stream.take_events(2000, within=0.05):
                    for ev in events:
                        orjson.loads(ev.value)
                    done(len(events))

        app.agent(src, name=f"bench.{mode.replace('-', '_')}")(agent)
    Worker(app, loglevel="error", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
