"""Reference baselines close the warm-up blind spot (issue 11): ``glasswatch train`` registers a
model version with its reference in a real ``mlflow server``; a real worker on the real broker
meets the brand-new version, reads its reference from MLflow (off the event loop) and arms its
bands and detectors from it, so a mean shift of one feature from the version's 3rd window on is
caught within 3 windows, the alert saying it was judged against the reference (and which one).

The stream is the reference itself (its rows and the version's own predictions on them, drawn
with replacement), so nothing else has reason to fire. Replays of the alert's exact offsets show
both sides: with the worker's baselines the same alert (id and evidence); with
``GLASSWATCH_WORKER__BASELINES=false`` nothing on that feature in those windows (learned bands
are still warming up: the shifted level becomes their normal).
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from glasswatch.cli import app as glasswatch_cli
from glasswatch.client import Publisher
from glasswatch.commands.dlq import read_topic_json
from glasswatch.drift.reference import Reference, ReferenceCache
from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.training.registry import MlflowReferenceStore

from .test_drift_mlflow import _cli
from .worker_process import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240, method="thread")]

MODEL = "baseline-bc"
FEATURE = "mean radius"
RATE, WINDOW_S = 20, 10  # 200 events per window
WINDOWS, SHIFT_WINDOW = 8, 2  # the shift starts in the 3rd window (index 2)


def _stream(ref: Reference, version: str, t0: datetime) -> list[dict[str, Any]]:
    per = RATE * WINDOW_S
    rows = ref.data.sample(n=WINDOWS * per + RATE, replace=True, random_state=np.random.default_rng(11))
    sd = float(ref.data[FEATURE].std())
    out = []
    for i, r in enumerate(rows.to_dict("records")):
        features = {k: float(r[k]) for k in ref.features}
        if i >= SHIFT_WINDOW * per:
            features[FEATURE] += sd  # one standard deviation, from the 3rd window on
        out.append({
            "type": "prediction", "model": MODEL, "model_version": version, "prediction_id": f"b-{i}",
            "event_time": (t0 + timedelta(seconds=i / RATE)).isoformat(),
            "features": features, "prediction": int(r["prediction"]),
        })  # fmt: skip
    return out


@pytest.fixture(scope="module")
def run(
    mlflow_server: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("baselines")
    worker = WorkerProcess(kafka_bootstrap, tmp, partitions=1)
    spec = tmp / "monitors.yaml"
    spec.write_text(f"model: {MODEL}\nwindow: {{size_seconds: {WINDOW_S}}}\n")  # baseline: auto (MLflow)
    worker.extra_env.update({"GLASSWATCH_WORKER__MONITOR_SPECS": str(spec),
                             "GLASSWATCH_MLFLOW__TRACKING_URI": mlflow_server,
                             "GLASSWATCH_WORKER__LABELS": "false"})  # fmt: skip
    worker.start()  # starts while the model trains
    try:
        repo = tmp / "repo"
        repo.mkdir()
        out = CliRunner().invoke(_cli(worker.settings), [
            "train", "--model-name", MODEL, "--tracking-uri", mlflow_server, "--experiment", "it-baselines",
            "--data-dir", str(tmp / "data"), "--repo", str(repo), "--alerts", "local", "--no-desktop",
            "--system-metrics-interval", "5"])  # fmt: skip
        assert out.exit_code == 0, out.output
        version = re.search(rf"{MODEL} v(\d+)", out.output).group(1)  # type: ignore[union-attr]
        ref = MlflowReferenceStore(mlflow_server, ReferenceCache(tmp / "cache")).resolve(MODEL, version)
        assert ref is not None and ref.prediction == "prediction"
        t0 = datetime.fromtimestamp((datetime.now(UTC).timestamp() // 600 - 2) * 600, UTC)  # window-aligned
        events = _stream(ref, version, t0)

        async def publish() -> None:
            async with Publisher(
                kafka_bootstrap, topic=worker.settings.topics.predictions, batch_size=50
            ) as pub:
                for e in events:
                    await pub.publish(e)

        worker.wait_for(lambda s: True, timeout_s=120)  # the worker created the topics (one partition)
        asyncio.run(publish())
        worker.wait_for(lambda s: s["accepted"] >= len(events), timeout_s=90)
        alerts = [
            Alert.model_validate(a)
            for a in asyncio.run(read_topic_json(kafka_bootstrap, worker.settings.topics.alerts))
        ]
        yield {
            "alerts": alerts,
            "ref": ref,
            "version": version,
            "t0": t0,
            "env": worker.env(),
            "worker": worker,
        }
    finally:
        worker.stop()


def _on_feature(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.model == MODEL and a.status is AlertStatus.FIRING
            and a.signal.startswith(f"feature:{FEATURE}:")]  # fmt: skip


def _window_index(a: Alert, t0: datetime) -> int:
    start = datetime.fromisoformat(str(a.evidence["window_start"]))
    return int((start - t0).total_seconds() // WINDOW_S)


def test_the_reference_arms_a_new_version_and_an_early_shift_is_caught(run: dict[str, Any]) -> None:
    found = _on_feature(run["alerts"])
    assert found, [(a.kind.value, a.signal, a.status.value) for a in run["alerts"]]
    first = min(found, key=lambda a: _window_index(a, run["t0"]))
    assert SHIFT_WINDOW <= _window_index(first, run["t0"]) < SHIFT_WINDOW + 3  # within 3 windows
    assert first.evidence["baseline"] == "reference"
    assert first.evidence["reference_sha256"] == run["ref"].sha256  # the registered file's digest
    assert first.evidence["reference_version"] == run["version"] == first.lineage.model_version
    before = [a for a in run["alerts"] if a.status is AlertStatus.FIRING and a.signal.startswith("feature:")
              and _window_index(a, run["t0"]) < SHIFT_WINDOW]  # fmt: skip
    assert before == [], [a.signal for a in before]  # the reference raised nothing on clean windows
    log = run["worker"].log_path.read_text(errors="replace")
    assert "no reference predictions" not in log and "no reference baseline" not in log, log[-3000:]


def _replay(run: dict[str, Any], alert: Alert, **env: str) -> tuple[list[Alert], int]:
    """The alert's printed replay command (with ``--json``): its alerts and how many windows."""
    assert alert.replay_command is not None
    argv = shlex.split(alert.replay_command)
    result = CliRunner().invoke(glasswatch_cli, [*argv[1:], "--json"], env={**run["env"], **env})
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    return [Alert.model_validate(a) for a in report["alerts"]], len(report["windows"])


def test_replay_with_the_same_baselines_gives_the_same_alert_and_without_them_nothing(
    run: dict[str, Any],
) -> None:
    first = min(_on_feature(run["alerts"]), key=lambda a: _window_index(a, run["t0"]))
    replayed, _ = _replay(run, first)
    same = {a.id: a for a in replayed}
    assert first.id in same and same[first.id].evidence == first.evidence
    learned, windows = _replay(run, first, GLASSWATCH_WORKER__BASELINES="false")
    assert windows > 0 and _on_feature(learned) == []  # the same windows: the warm-up blind spot
