"""A concept change through the whole product: ``glasswatch train`` → worker (ingest + label join)
→ drift process → alerts, on the real broker and a real ``mlflow server``.

The inputs never change (rows drawn from the training split); halfway through, the labels start
to follow a different function of the same inputs (the target flipped). The drift process finds
no data drift and says so on the verdicts topic; the label join, which follows that topic, raises
``concept_drift`` and ``performance_drop`` whose evidence says ``inputs_drifted: no``, and there
is no ``data_drift`` for the model.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from glasswatch.agents.drift import DriftRuntime
from glasswatch.client import Publisher
from glasswatch.commands.dlq import read_topic_json
from glasswatch.drift.reference import ReferenceCache
from glasswatch.drift.spec import DriftSpec
from glasswatch.training.pipeline import TARGET, load_splits
from glasswatch.training.registry import MlflowReferenceStore

from .test_drift_mlflow import _cli
from .worker_process import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600, method="thread")]

MODEL = "concept-bc"
RATE, WINDOW_S, PERIOD = 20, 10, 3
N = 4 * WINDOW_S * PERIOD * RATE  # four drift windows of predictions
FLIP_AT = N // 2


@pytest.fixture
def worker(kafka_bootstrap: str, mlflow_server: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(kafka_bootstrap, tmp_path, partitions=1)
    spec = tmp_path / "monitors.yaml"
    spec.write_text(
        f"model: {MODEL}\nwindow: {{size_seconds: {WINDOW_S}}}\n"
        f"drift: {{period_windows: {PERIOD}, performance: {{window: 300}}}}\n",
        encoding="utf-8",
    )
    w.extra_env.update({
        "GLASSWATCH_WORKER__LABELS": "true",
        "GLASSWATCH_WORKER__MONITOR_SPECS": str(spec),
        "GLASSWATCH_MLFLOW__TRACKING_URI": mlflow_server,
    })  # fmt: skip
    w.start()
    yield w
    w.stop()


def _labels(w: WorkerProcess) -> dict[str, Any]:
    try:
        return dict(w.get("/glasswatch/labels/"))
    except Exception:
        return {}


def _wait(what: str, check: Any, w: WorkerProcess, timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert w.alive, w.log_tail()
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}\n{w.log_tail()}")


def test_labels_that_change_function_raise_concept_drift_with_inputs_not_drifted(
    worker: WorkerProcess, mlflow_server: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    import mlflow

    mlflow.set_tracking_uri(mlflow_server)
    settings = worker.settings
    repo = tmp_path / "repo"
    repo.mkdir()
    out = CliRunner().invoke(_cli(settings), [
        "train", "--model-name", MODEL, "--tracking-uri", mlflow_server, "--experiment", "it-concept",
        "--data-dir", str(tmp_path / "data"), "--repo", str(repo), "--alerts", "local", "--no-desktop",
        "--system-metrics-interval", "5"])  # fmt: skip
    assert out.exit_code == 0, out.output
    version = re.search(rf"{MODEL} v(\d+)", out.output).group(1)  # type: ignore[union-attr]

    train = load_splits()["train"]
    rows = train.sample(n=N + WINDOW_S * RATE * 4, replace=True, random_state=np.random.default_rng(5))
    recs = rows.to_dict("records")
    t0 = datetime.fromtimestamp((datetime.now(UTC).timestamp() // 600 - 2) * 600, UTC)
    preds = [{
        "type": "prediction", "model": MODEL, "model_version": version, "prediction_id": f"c-{i}",
        "event_time": (t0 + timedelta(seconds=i / RATE)).isoformat(),
        "features": {k: float(v) for k, v in r.items() if k != TARGET}, "prediction": int(r[TARGET]),
    } for i, r in enumerate(recs)]  # fmt: skip
    labels = [{
        "type": "label", "model": MODEL, "prediction_id": f"c-{i}",
        "event_time": (t0 + timedelta(seconds=i / RATE, minutes=5)).isoformat(),
        "label": int(r[TARGET]) if i < FLIP_AT else 1 - int(r[TARGET]),  # the concept flips, inputs don't
    } for i, r in enumerate(recs[:N])]  # fmt: skip

    async def publish(topic: str, events: list[dict[str, Any]]) -> None:
        async with Publisher(kafka_bootstrap, topic=topic, batch_size=50) as pub:
            for e in events:
                await pub.publish(e)

    worker.wait_for(lambda s: True, timeout_s=120)  # topics created by the worker (see test_drift_mlflow)
    asyncio.run(publish(settings.topics.predictions, preds))
    worker.wait_for(lambda s: s["accepted"] >= len(preds), timeout_s=120)

    store = MlflowReferenceStore(mlflow_server, ReferenceCache(tmp_path / "cache"))
    runtime = DriftRuntime(
        bootstrap=kafka_bootstrap, windows_topic=settings.topics.windows, alerts_topic=settings.topics.alerts,
        store=store, spec_for=lambda _m: DriftSpec(period_windows=PERIOD, min_rows=100),
        group_id=f"drift-{settings.worker.app_id}", poll_timeout=0.5,
        verdicts_topic=settings.topics.drift_verdicts,
    )  # fmt: skip
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(runtime.run(stop),), daemon=True)
    thread.start()
    try:
        stats = runtime.stats
        _wait(
            lambda: f"four drift runs ({stats})",
            lambda: stats.runs >= 4 or stats.failures,
            worker,
            timeout_s=300,
        )
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    assert runtime.stats.failures == 0
    # the worker's label join has read the verdict before any label arrives
    _wait(
        "the verdict in the worker",
        lambda: _labels(worker).get("process", {}).get("verdicts", 0) >= 1,
        worker,
    )

    asyncio.run(publish(settings.topics.labels, labels))
    _wait("every label joined", lambda: _labels(worker).get("totals", {}).get("joined", 0) >= N, worker)

    def found() -> list[dict[str, Any]]:
        alerts = asyncio.run(read_topic_json(kafka_bootstrap, settings.topics.alerts))
        got = [a for a in alerts if a["model"] == MODEL and a["status"] == "firing"
               and a["kind"] in ("concept_drift", "performance_drop")]  # fmt: skip
        return got if {a["kind"] for a in got} == {"concept_drift", "performance_drop"} else []

    label_alerts = _wait("concept_drift and performance_drop", found, worker, timeout_s=60)
    for a in label_alerts:
        assert a["evidence"]["inputs_drifted"] == "no", a["evidence"]
        assert a["labels"]["inputs_drifted"] == "no"
        assert a["labels"]["model_version"] == version
    alerts = asyncio.run(read_topic_json(kafka_bootstrap, settings.topics.alerts))
    mine = [a for a in alerts if a["model"] == MODEL]
    assert not [a for a in mine if a["kind"] in ("data_drift", "no_reference")], [
        (a["kind"], a["summary"]) for a in mine]  # fmt: skip
    # the first labelled half was right: nothing fired before the flip
    first = min(datetime.fromisoformat(a["starts_at"]) for a in label_alerts)
    assert first >= t0 + timedelta(seconds=FLIP_AT / RATE, minutes=5)
    mlflow.set_tracking_uri(None)
