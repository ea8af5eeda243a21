"""Batch drift end to end: ``glasswatch train`` → stream → worker → drift agent → MLflow + alerts.

One real broker, one real ``mlflow server`` (``conftest.py``), one real worker process and the
drift agent (:class:`~glasswatch.agents.drift.DriftRuntime`, its jobs in a spawned process pool)
in this process. The model is the breast-cancer example trained with ``glasswatch train``; the
stream's rows are drawn from its training split, in 10 s monitor windows of 200 events, three per
drift window: two drift windows as trained, then two whose inputs shift (the ``mean *`` and
``worst *`` columns scaled by 1.3), then a trailing window that closes the last one. A second
model has no registered version at all.
"""

from __future__ import annotations

import asyncio
import re
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from glasswatch.agents.drift import DriftRuntime
from glasswatch.client import Publisher
from glasswatch.commands import drift as drift_command
from glasswatch.commands import reference as reference_command
from glasswatch.commands import train as train_command
from glasswatch.commands.context import CommandContext
from glasswatch.drift.reference import ReferenceCache
from glasswatch.drift.spec import DriftSpec
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus
from glasswatch.training.pipeline import TARGET, load_splits
from glasswatch.training.registry import MlflowReferenceStore

from .worker_process import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240, method="thread")]

MODEL, NO_REF = "drift-bc", "drift-noref"
RATE, WINDOW_S, PERIOD = 20, 10, 3  # events/s, monitor window, monitor windows per drift window
DRIFT_S = WINDOW_S * PERIOD
SHIFT = 1.3


def _cli(settings: Any) -> typer.Typer:
    app = typer.Typer()
    context = CommandContext(settings=lambda: settings, environ=dict)
    for module in (train_command, reference_command, drift_command):
        module.register(app, context)
    return app


def _events(
    model: str, version: str, rows: pd.DataFrame, start: datetime, seconds: int, tag: str
) -> list[dict[str, Any]]:
    out = []
    n = seconds * RATE
    recs = rows.to_dict("records")
    for i in range(n):
        r = recs[i % len(recs)]
        out.append({
            "type": "prediction", "model": model, "model_version": version, "prediction_id": f"{tag}-{i}",
            "event_time": (start + timedelta(seconds=i / RATE)).isoformat(),
            "features": {k: float(v) for k, v in r.items() if k != TARGET},  # the real names: "mean radius"
            "prediction": int(r[TARGET]),  # a model that is always right: predictions as trained
        })
    return out


@pytest.fixture(scope="module")
def drift_run(mlflow_server: str, kafka_bootstrap: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import mlflow

    mlflow.set_tracking_uri(mlflow_server)
    tmp = tmp_path_factory.mktemp("drift")
    worker = WorkerProcess(kafka_bootstrap, tmp, partitions=1)
    spec_file = tmp / "monitors.yaml"
    spec_file.write_text("\n---\n".join(f"model: {m}\nwindow: {{size_seconds: {WINDOW_S}}}\n"
                                       for m in (MODEL, NO_REF)))
    env = worker.env
    worker.env = lambda: {**env(), "GLASSWATCH_WORKER__MONITOR_SPECS": str(spec_file)}  # type: ignore[method-assign]
    worker.start()  # starts while the model trains
    settings = worker.settings
    try:
        repo = tmp / "repo"
        repo.mkdir()
        out = CliRunner().invoke(_cli(settings), [
            "train", "--model-name", MODEL, "--tracking-uri", mlflow_server, "--experiment", "it-drift",
            "--data-dir", str(tmp / "data"), "--repo", str(repo), "--alerts", "local", "--no-desktop",
            "--system-metrics-interval", "5"])
        assert out.exit_code == 0, out.output
        version = re.search(rf"{MODEL} v(\d+)", out.output).group(1)  # type: ignore[union-attr]
        splits = load_splits()

        rng = np.random.default_rng(3)
        train = splits["train"]
        clean = train.sample(n=len(train) * 4, replace=True, random_state=rng).reset_index(drop=True)
        shifted = clean.copy()
        moved = [c for c in train.columns if c.startswith(("mean ", "worst "))]
        shifted[moved] = shifted[moved] * SHIFT
        t0 = datetime.fromtimestamp((datetime.now(UTC).timestamp() // 600 - 2) * 600, UTC)  # window-aligned
        t_shift = t0 + timedelta(seconds=2 * DRIFT_S)
        events = sorted(  # both models in time order: one partition, one watermark
            _events(MODEL, version, clean, t0, 2 * DRIFT_S, "a")
            + _events(MODEL, version, shifted.iloc[::-1], t_shift, 2 * DRIFT_S, "b")
            + _events(MODEL, version, clean.iloc[7:], t_shift + timedelta(seconds=2 * DRIFT_S), 30, "c")
            + _events(NO_REF, "1", clean, t0, 5 * DRIFT_S, "n"),
            key=lambda e: e["event_time"])

        async def publish() -> None:
            async with Publisher(kafka_bootstrap, topic=settings.topics.predictions, batch_size=50) as pub:
                for e in events:
                    await pub.publish(e)

        # the worker creates the topics (one partition here): publishing first would let the broker
        # auto-create them with its default partitions, and Faust refuses a changelog that differs
        worker.wait_for(lambda s: True, timeout_s=120)
        asyncio.run(publish())
        worker.wait_for(lambda s: s["accepted"] >= len(events), timeout_s=90)

        alerts: list[Alert] = []
        store = MlflowReferenceStore(mlflow_server, ReferenceCache(tmp / "cache"))
        runtime = DriftRuntime(
            bootstrap=kafka_bootstrap, windows_topic=settings.topics.windows,
            alerts_topic=settings.topics.alerts,
            store=store, spec_for=lambda m: DriftSpec(period_windows=PERIOD, min_rows=100),
            group_id=f"drift-{settings.worker.app_id}", on_alert=alerts.append, poll_timeout=0.5,
        )
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        thread = threading.Thread(target=loop.run_until_complete, args=(runtime.run(stop),), daemon=True)
        thread.start()
        expected_windows = 4 + 4  # drift windows that close: 4 of MODEL, 4 of NO_REF
        deadline = datetime.now(UTC) + timedelta(seconds=90)
        while datetime.now(UTC) < deadline and (runtime.stats.windows < expected_windows
                                                or runtime.book.pending or runtime.stats.failures):
            threading.Event().wait(0.5)
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        assert runtime.stats.failures == 0, "a drift job failed (see the log)"
        yield {"alerts": alerts, "runtime": runtime, "settings": settings, "version": version,
               "moved": moved, "t_shift": t_shift, "store": store,
               "tracking_uri": mlflow_server, "tmp": tmp}
    finally:
        worker.stop()
        mlflow.set_tracking_uri(None)


def test_shifted_inputs_raise_data_drift_naming_the_columns_and_the_mlflow_run(
    drift_run: dict[str, Any],
) -> None:
    alerts = [a for a in drift_run["alerts"] if a.model == MODEL]
    data = [a for a in alerts if a.kind is AlertKind.DATA_DRIFT]
    assert [a.status for a in data] == [AlertStatus.FIRING], [(a.kind.value, a.signal) for a in alerts]
    (a,) = data
    # flagged by the first drift window after the shift
    assert a.starts_at == drift_run["t_shift"] + timedelta(seconds=DRIFT_S)
    named = [c["column"] for c in a.evidence["drifted_columns"]]
    assert set(named) <= set(drift_run["moved"]) and len(named) >= len(drift_run["moved"]) // 2
    assert a.lineage.model_version == drift_run["version"] and a.lineage.reference_digest
    assert a.lineage.offsets and a.replay_command == f"glasswatch drift rerun {a.lineage.mlflow_run_id}"
    # the MLflow run holds the report, which opens and names the drifted columns
    run = MlflowClient(drift_run["tracking_uri"]).get_run(a.lineage.mlflow_run_id)
    assert run.data.tags["glasswatch.drift.model"] == MODEL
    assert run.data.params["reference_sha256"] == a.lineage.reference_digest
    assert run.data.metrics[f"{named[0]}.drifted"] == 1.0
    contexts = {t.value for i in run.inputs.dataset_inputs for t in i.tags if t.key == "mlflow.data.context"}
    assert contexts == {"production", "reference"}
    assert a.links.mlflow_run is not None and a.links.mlflow_run.endswith(a.lineage.mlflow_run_id)
    with urllib.request.urlopen(a.evidence["report_url"], timeout=30) as resp:  # noqa: S310 (local server)
        html = resp.read().decode()
    assert all(c in html for c in named[:5])
    feature_signals = {x.signal for x in alerts if x.kind is AlertKind.FEATURE_DRIFT}
    assert {f"feature:{c}:drift" for c in named} <= feature_signals


def test_the_unshifted_stream_raises_nothing(drift_run: dict[str, Any]) -> None:
    before = [a for a in drift_run["alerts"] if a.model == MODEL and a.starts_at <= drift_run["t_shift"]]
    assert [a for a in before if a.kind in (AlertKind.DATA_DRIFT, AlertKind.PREDICTION_DRIFT)] == []
    # Evidently's per-column verdicts flag ~5 % of clean columns; an alert needs more (drift/confirm.py)
    assert [a.signal for a in before if a.kind is AlertKind.FEATURE_DRIFT] == []
    # the two clean drift windows ran (and were logged) like the shifted ones
    assert drift_run["runtime"].stats.runs == 4


def test_a_model_without_reference_raises_no_reference_once(drift_run: dict[str, Any]) -> None:
    alerts = [a for a in drift_run["alerts"] if a.model == NO_REF]
    assert [(a.kind, a.status) for a in alerts] == [(AlertKind.NO_REFERENCE, AlertStatus.FIRING)]
    assert "glasswatch reference register" in alerts[0].evidence["register_command"]


def test_rerun_from_mlflow_and_kafka_gives_identical_per_column_results(drift_run: dict[str, Any]) -> None:
    (a,) = [x for x in drift_run["alerts"] if x.kind is AlertKind.DATA_DRIFT]
    logged = drift_run["store"].read_drift_run(a.lineage.mlflow_run_id)
    assert logged.window.offsets == a.lineage.offsets  # the exact offset ranges, read back
    out = CliRunner().invoke(_cli(drift_run["settings"]), [
        "drift", "rerun", a.lineage.mlflow_run_id, "--tracking-uri", drift_run["tracking_uri"],
        "--cache-dir", str(drift_run["tmp"] / "cache2"), "--json"])
    assert out.exit_code == 0, out.output
    assert '"identical": true' in out.output


def test_reference_register_for_a_model_trained_elsewhere(drift_run: dict[str, Any], tmp_path: Path) -> None:
    client = MlflowClient(drift_run["tracking_uri"])
    name = "drift-external"
    client.create_registered_model(name)
    mv = client.create_model_version(name, source="s3://elsewhere/models/churn", run_id=None)  # no run
    data = tmp_path / "ref.csv"
    load_splits()["reference"].head(50).to_csv(data, index=False)
    out = CliRunner().invoke(_cli(drift_run["settings"]), [
        "reference", "register", name, mv.version, str(data), "--tracking-uri", drift_run["tracking_uri"]])
    assert out.exit_code == 0, out.output
    store = MlflowReferenceStore(drift_run["tracking_uri"], ReferenceCache(tmp_path / "c"), predict=False)
    ref = store.resolve(name, mv.version)
    assert ref is not None and len(ref.data) == 50 and ref.target == TARGET and "mean radius" in ref.features
    from glasswatch.drift.reference import file_digest

    assert ref.sha256 == file_digest(data)  # the digest of the registered bytes
