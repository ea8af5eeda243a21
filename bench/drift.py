"""Cost of the drift job against a plain scipy loop on the same data.

A 10,000 × 20 production window (18 numeric columns, 2 categorical; 3 numeric columns shifted)
against a 10,000-row reference, seeded. Per round, interleaved:

* ``evidently_job``: :func:`glasswatch.drift.job.run_drift` as the drift agent runs it — Evidently
  (legacy report: dataset drift + per-column table + prediction drift), the data-quality checks
  and the HTML and JSON reports;
* ``evidently_no_report``: the same without rendering the reports;
* ``scipy_loop``: per numeric column ``scipy.stats.ks_2samp`` and ``wasserstein_distance``, per
  categorical column a chi-square on the category counts — the tests, nothing else.

Prints JSON: per variant the median and min–max wall time over the rounds, the ratios of the
medians (target: the job within 10× of the scipy loop), and whether both flagged the same columns.
The first Evidently call (imports) is excluded by a warm-up run.

Two more figures, measured against the real broker (``GLASSWATCH_KAFKA_BOOTSTRAP``; left out
without one):

* ``event_loop_lag``: an asyncio loop submits the drift job of the same window — encoded as
  10,000 prediction messages, decoded by :func:`glasswatch.drift.job.run_window` — to a spawned
  ``ProcessPoolExecutor`` exactly as :class:`glasswatch.agents.drift.DriftRuntime` does
  (``job_pool``: spawned, niceness + 10; ``run_in_executor(pool, run_job, ...)``, reports rendered)
  and awaits it, job after job — the worst case: the agent runs one job per drift window — while a
  10 ms ticker on the same loop records how late it wakes up: p50 / p99 / max lag (target: p99
  < 50 ms). Measured in the drift-load process (``--load``) while the ingest rounds below run.
* ``ingest``: events/s of the glasswatch ingest worker (``bench/faust_runner.py``, the variant
  ``bench/throughput.py`` measures: ingest + every online monitor on batch envelopes of 500)
  over the same topic, without and with that drift loop running in its own process, interleaved
  rounds; median and min–max per side, the ratio of the medians (target ≥ 0.7), and the load
  average before and after.

Run: ``.venv/bin/python bench/drift.py [--rounds 5] [--ingest-rounds 4] [--events 60000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
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

import numpy as np
import orjson
import pandas as pd
from scipy import stats

from glasswatch.drift.job import run_drift
from glasswatch.drift.spec import DriftSpec

HERE = Path(__file__).resolve().parent
TICK_S = 0.01

ROWS, NUMERIC, CATEGORICAL = 10_000, 18, 2
SHIFTED = ("x0", "x1", "x2")


def data(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(shift: bool) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for i in range(NUMERIC):
            name = f"x{i}"
            cols[name] = rng.normal(0.5 if shift and name in SHIFTED else 0.0, 1.0, ROWS)
        for j in range(CATEGORICAL):
            cols[f"c{j}"] = rng.choice(["a", "b", "c", "d"], ROWS, p=[0.4, 0.3, 0.2, 0.1])
        cols["target"] = rng.integers(0, 2, ROWS)
        return pd.DataFrame(cols)

    ref, cur = frame(False), frame(True)
    return ref, cur.drop(columns=["target"]).assign(prediction=cur["target"].to_numpy())


def scipy_loop(ref: pd.DataFrame, cur: pd.DataFrame) -> list[str]:
    drifted = []
    for col in ref.columns:
        if col == "target":
            continue
        if col.startswith("x"):
            p = stats.ks_2samp(ref[col], cur[col]).pvalue
            d = stats.wasserstein_distance(ref[col], cur[col]) / max(float(ref[col].std()), 1e-12)
            if d >= 0.1:  # Evidently's default for > 1,000 reference rows (normed Wasserstein)
                drifted.append(col)
            _ = p
        else:
            cats = sorted(set(ref[col]) | set(cur[col]))
            f_ref = ref[col].value_counts().reindex(cats, fill_value=0).to_numpy()
            f_cur = cur[col].value_counts().reindex(cats, fill_value=0).to_numpy()
            if stats.chi2_contingency(np.vstack([f_ref, f_cur]))[1] < 0.05:
                drifted.append(col)
    return drifted


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def window_messages(cur: pd.DataFrame) -> tuple[Any, list[Any]]:
    """``cur`` as 10,000 prediction messages of one drift window (what the agent reads back)."""
    from glasswatch.drift.window import DriftWindow
    from glasswatch.monitor.replay import Message
    from glasswatch.schemas.coords import Coord, OffsetRange

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    msgs = []
    for i, row in enumerate(cur.to_dict("records")):
        doc = {
            "type": "prediction",
            "model": "bench",
            "model_version": "1",
            "prediction_id": f"p{i}",
            "event_time": (t0 + timedelta(milliseconds=10 * i)).isoformat(),
            "features": {k: v for k, v in row.items() if k != "prediction"},
            "prediction": int(row["prediction"]),
        }
        msgs.append(Message(Coord("bench-preds", 0, i), orjson.dumps(doc)))
    span = OffsetRange(topic="bench-preds", partition=0, first=0, last=len(msgs) - 1)
    window = DriftWindow(
        model="bench", model_version="1", start=t0, end=t0 + timedelta(hours=1), offsets=(span,)
    )
    return window, msgs


def percentiles(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000
    return {
        "samples": len(xs),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
    }


async def _drift_loop(out: Path) -> None:
    """The drift agent's way of running jobs, back to back while the file ``out.run`` exists
    (``out.state`` says ``busy`` or ``idle``), until SIGTERM; a 10 ms ticker measures the loop's
    lag while a job is in flight. Writes ``out`` (JSON) at the end."""
    from glasswatch.agents.drift_pool import job_pool, run_job, warm_pool
    from glasswatch.drift.reference import Reference

    ref, cur = data()
    window, msgs = window_messages(cur)
    reference = Reference(
        model="bench",
        version="1",
        data=ref,
        uri="bench://ref",
        sha256="0" * 64,
        features=tuple(c for c in ref.columns if c != "target"),
        target="target",
    )
    spec = DriftSpec(min_rows=1)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    pool = job_pool(1)
    await loop.run_in_executor(pool, warm_pool)
    run, state = Path(f"{out}.run"), Path(f"{out}.state")
    lags: list[float] = []
    jobs: list[float] = []
    in_flight = False

    async def ticker() -> None:
        due = loop.time() + TICK_S
        while not stop.is_set():
            await asyncio.sleep(max(0.0, due - loop.time()))
            now = loop.time()
            if in_flight:
                lags.append(max(0.0, now - due))
            due = now + TICK_S

    async def jobs_loop() -> None:
        nonlocal in_flight
        while not stop.is_set():
            if not run.exists():
                state.write_text("idle")
                await asyncio.sleep(0.1)
                continue
            state.write_text("busy")
            in_flight, started = True, time.perf_counter()
            rows, result = await loop.run_in_executor(pool, run_job, msgs, window, reference, spec)
            in_flight = False
            jobs.append(time.perf_counter() - started)
            assert len(rows) == ROWS and result.drifted

    tick = asyncio.create_task(ticker())
    work = asyncio.create_task(jobs_loop())
    await stop.wait()
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    await tick
    pool.shutdown(wait=False, cancel_futures=True)
    out.write_text(json.dumps({"jobs": len(jobs), "job_seconds": jobs, "lags": lags}))


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text() == text):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the drift load is not {text}")
        time.sleep(0.05)


def ingest_figures(bootstrap: str, rounds: int, events: int) -> dict[str, Any]:
    """Ingest events/s without and with the drift loop (see the module docstring)."""
    sys.path.insert(0, str(HERE))
    from throughput import _faust, _produce  # bench/throughput.py: the same measurement

    from glasswatch.testing.traffic import TrafficGenerator

    sys.path.insert(0, str(HERE.parent / "tests"))
    from kafka_helpers import create_topic

    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-drift-"))
    topic = f"bench-drift-ingest-{uuid.uuid4().hex[:6]}"
    asyncio.run(create_topic(bootstrap, topic, 1))
    gen = TrafficGenerator(
        model="bench", seed=1, start=datetime.now(UTC) - timedelta(hours=1), rate_per_s=1000
    )
    asyncio.run(_produce(bootstrap, topic, list(gen.events(events)), 500))
    out = workdir / "drift-load.json"
    run, state = Path(f"{out}.run"), Path(f"{out}.state")
    load = subprocess.Popen([sys.executable, str(HERE / "drift.py"), "--load", str(out)])
    eps: dict[str, list[float]] = {"without_drift": [], "with_drift": []}

    def ingest() -> float:
        return events / float(_faust("glasswatch-monitors", topic, events, bootstrap, workdir)["seconds"])

    load_before = os.getloadavg()
    try:
        _wait_for(state, "idle", load)
        for i in range(rounds):  # interleaved, alternating which side goes first
            for side in ("without_drift", "with_drift") if i % 2 == 0 else ("with_drift", "without_drift"):
                if side == "with_drift":
                    run.write_text("1")
                    _wait_for(state, "busy", load)
                eps[side].append(ingest())
                if side == "with_drift":
                    run.unlink()
                    _wait_for(state, "idle", load)
        load_after = os.getloadavg()
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(timeout=60)
    doc = json.loads(out.read_text())
    lags, job_seconds = doc["lags"], doc["job_seconds"]
    med = {k: statistics.median(v) for k, v in eps.items()}
    return {
        "ingest": {
            "variant": "glasswatch ingest + every monitor, envelopes of 500 (bench/faust_runner.py)",
            "events": events,
            "rounds": rounds,
            "events_per_s": {
                k: {
                    "median": round(med[k]),
                    "min": round(min(v)),
                    "max": round(max(v)),
                    "all": [round(x) for x in v],
                }
                for k, v in eps.items()
            },
            "ratio_with_vs_without": round(med["with_drift"] / med["without_drift"], 3),
            "target_ratio": 0.7,
            "within_target": med["with_drift"] / med["without_drift"] >= 0.7,
            "drift_jobs": len(job_seconds),
            "drift_job_seconds": {
                "median": round(statistics.median(job_seconds), 3),
                "min": round(min(job_seconds), 3),
                "max": round(max(job_seconds), 3),
            },
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "cpus": os.cpu_count(),
        },
        "event_loop_lag": {
            "while": "drift jobs of the 10,000 x 20 window (10,000 messages decoded, reports rendered) "
            "in a spawned process pool, awaited on the loop, during the with-drift ingest rounds",
            "tick_ms": TICK_S * 1000,
            **percentiles(lags),
            "target_p99_ms": 50.0,
            "within_target": float(np.percentile(lags, 99)) * 1000 < 50.0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ingest-rounds", type=int, default=4)
    parser.add_argument("--events", type=int, default=60_000, help="events per ingest round")
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)  # the drift-load subprocess
    args = parser.parse_args()
    if args.load is not None:
        asyncio.run(_drift_loop(args.load))
        return
    ref, cur = data()
    spec = DriftSpec(min_rows=1)
    variants: dict[str, Callable[[], Any]] = {
        "evidently_job": lambda: run_drift(ref, cur, spec, target="target"),
        "evidently_no_report": lambda: run_drift(ref, cur, spec, target="target", report=False),
        "scipy_loop": lambda: scipy_loop(ref, cur),
    }
    variants["evidently_no_report"]()  # warm-up: imports
    times: dict[str, list[float]] = {k: [] for k in variants}
    outputs: dict[str, Any] = {}
    for _ in range(max(3, args.rounds)):
        for name, fn in variants.items():  # interleaved: drift of the machine hits every variant
            t, outputs[name] = timed(fn)
            times[name].append(t)
    med = {k: statistics.median(v) for k, v in times.items()}
    job = outputs["evidently_job"]
    bootstrap = os.environ.get("GLASSWATCH_KAFKA_BOOTSTRAP", "")
    extra: dict[str, Any] = (
        ingest_figures(bootstrap, args.ingest_rounds, args.events)
        if bootstrap
        else {"ingest": "skipped: set GLASSWATCH_KAFKA_BOOTSTRAP to a broker"}
    )
    print(
        json.dumps(
            {
                "bench": "drift",
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
                "window": {
                    "rows": ROWS,
                    "columns": NUMERIC + CATEGORICAL,
                    "reference_rows": ROWS,
                    "shifted": list(SHIFTED),
                },
                "rounds": len(times["scipy_loop"]),
                "seconds": {
                    k: {"median": round(med[k], 4), "min": round(min(v), 4), "max": round(max(v), 4)}
                    for k, v in times.items()
                },
                "ratio_job_vs_scipy": round(med["evidently_job"] / med["scipy_loop"], 2),
                "ratio_no_report_vs_scipy": round(med["evidently_no_report"] / med["scipy_loop"], 2),
                "target_ratio": 10.0,
                "within_target": med["evidently_job"] / med["scipy_loop"] <= 10.0,
                "drifted": {
                    "evidently": [c.column for c in job.drifted],
                    "scipy": sorted(outputs["scipy_loop"]),
                },
                "methods": sorted({c.method for c in job.columns if c.method}),
                "report_html_bytes": len(job.report_html),
                **extra,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
