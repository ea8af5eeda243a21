"""An alert's printed ``replay_command`` reproduces it through the real broker (issue 13, part 4).

A real worker raises alerts from a stream with a mean shift; the first firing alert's command is
run exactly as printed (split with shlex, as a shell would) and must give back the same id and
evidence, and nothing the worker did not raise (no window cut at the range's end).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from glasswatch.cli import app
from glasswatch.client import Publisher
from glasswatch.commands.dlq import read_topic_json
from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
from glasswatch.schemas import Alert, AlertStatus
from glasswatch.testing.simulate import simulate

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration

SPEC = """model: rp
window: {size_seconds: 1}
anomaly: {enabled: false}
default: {enabled: false}
signals:
  "feature:x0:mean": {dynamic: {warmup: 10}}
---
model: other
anomaly: {enabled: false}
"""


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("replay")
    spec = workdir / "monitors.yaml"
    spec.write_text(SPEC)
    worker = WorkerProcess(kafka_bootstrap, workdir, partitions=1)  # both models share the partition
    base_env = worker.env
    worker.env = lambda: {**base_env(), "GLASSWATCH_WORKER__MONITOR_SPECS": str(spec)}  # type: ignore[method-assign]
    start = datetime.now(UTC) - timedelta(minutes=5)
    other = simulate(300, n_features=2, seed=1, model="other", start=start)
    recs = simulate(6000, n_features=2, change="mean_shift", change_at=3000, magnitude=3.0, seed=3,
                    model="rp", start=start)  # fmt: skip

    async def publish() -> None:
        await ensure_topics(kafka_bootstrap, glasswatch_topics(worker.settings))
        async with Publisher(kafka_bootstrap, topic=worker.settings.topics.predictions, batch_size=50) as pub:
            for r in [*other, *recs]:
                await pub.publish(r.event)

    try:
        asyncio.run(publish())
        worker.start()
        worker.wait_for(lambda s: s["accepted"] >= len(other) + len(recs), timeout_s=180)
        alerts = [
            Alert.model_validate(a)
            for a in asyncio.run(read_topic_json(kafka_bootstrap, worker.settings.topics.alerts))
        ]
        yield {"alerts": alerts, "env": worker.env(), "worker": worker}
    finally:
        worker.stop()


def _firing(alerts: list[Alert]) -> Alert:
    firing = [a for a in alerts if a.model == "rp" and a.status is AlertStatus.FIRING]
    assert firing, [(a.model, a.signal, a.status.value) for a in alerts]
    return firing[0]


def test_lineage_names_where_the_state_began_and_the_closing_message(run: dict[str, Any]) -> None:
    alert = _firing(run["alerts"])
    (window,) = alert.lineage.offsets
    (state,) = alert.lineage.state_offsets
    assert (state.topic, state.partition) == (window.topic, window.partition)
    assert state.first == 0  # the partition state began with the other model's first message
    assert state.first < window.first <= window.last < state.last  # the closing message comes later
    assert alert.replay_command is not None
    assert f"--from {state.first} --through {state.last}" in alert.replay_command


def test_the_printed_replay_command_reproduces_the_alert(run: dict[str, Any]) -> None:
    alert = _firing(run["alerts"])
    assert alert.replay_command is not None
    argv = shlex.split(alert.replay_command)
    assert argv[0] == "glasswatch"
    # exactly as printed, in a subprocess (as a person would run it on the worker's machine)
    done = subprocess.run(
        [sys.executable, "-m", "glasswatch", *argv[1:]], env=run["env"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"id={alert.id}" in done.stdout
    assert "replayed" in done.stderr  # the summary line, always (no progress bar: not a terminal)
    # and as JSON, to compare the evidence exactly
    result = CliRunner().invoke(app, [*argv[1:], "--json"], env=run["env"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    replayed = {a["id"]: Alert.model_validate(a) for a in report["alerts"]}
    assert alert.id in replayed, "the replay did not reproduce the alert"
    assert replayed[alert.id].evidence == alert.evidence
    assert replayed[alert.id].lineage == alert.lineage
    assert not report["closed_early"]
    live = {a.id for a in run["alerts"]}
    assert set(replayed) <= live, "the replay raised alerts the worker never raised"


def test_a_window_range_alone_reads_on_until_its_window_closed(run: dict[str, Any]) -> None:
    """Without --through the replay reads past the range until the window closed: not cut."""
    alert = _firing(run["alerts"])
    (w,) = alert.lineage.offsets
    args = ["replay", "--model", "rp", "--offsets", f"{w.topic}:{w.partition}:{w.first}-{w.last}",
            "--from", "0", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args, env=run["env"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    replayed = {a["id"]: a for a in report["alerts"]}
    assert alert.id in replayed
    assert replayed[alert.id]["evidence"] == alert.evidence
    assert not report["closed_early"]
    assert report["last"] > w.last
    assert set(replayed) <= {a.id for a in run["alerts"]}


def test_replay_by_time_and_with_another_spec(run: dict[str, Any], tmp_path: Path) -> None:
    """--from-time/--to-time selects by Kafka time; --spec replays history with another spec."""
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text("model: rp\nwindow: {size_seconds: 1}\nanomaly: {enabled: false}\n"
                     "default: {enabled: false}\n")  # fmt: skip
    args = ["replay", "--model", "rp", "--from-time", "2000-01-01T00:00:00Z", "--spec", str(quiet), "--json"]
    result = CliRunner().invoke(app, args, env=run["env"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["events"] == 6000
    assert report["alerts"] == []  # every signal off: nothing would have fired
    assert report["config_hash"] != _firing(run["alerts"]).lineage.config_hash
