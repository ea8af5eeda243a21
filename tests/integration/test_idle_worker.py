"""A source that goes silent: the worker's idle ticks close windows, and `event_rate` fires."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glasswatch.client import Publisher
from glasswatch.commands.dlq import read_topic_json
from glasswatch.kafka.reader import read_range
from glasswatch.monitor.replay import replay
from glasswatch.monitor.specs import load_spec_text
from glasswatch.schemas import Alert, AlertKind, AlertStatus
from glasswatch.testing.simulate import simulate

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration

SPEC = "model: quiet\nwindow: {size_seconds: 10}\n"


def test_a_silent_source_raises_event_rate_and_a_replay_reproduces_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(SPEC)
    worker = WorkerProcess(kafka_bootstrap, tmp_path)
    env = worker.env
    worker.env = lambda: {  # type: ignore[method-assign]
        **env(),
        "GLASSWATCH_WORKER__MONITOR_SPECS": str(spec_file),
        "GLASSWATCH_WORKER__IDLE_AFTER_S": "3",
        "GLASSWATCH_WORKER__IDLE_TICK_S": "1",
    }
    n = 30_000  # 300 s of event time at 100 events/s: past the learned bands' warm-up
    recs = simulate(n, n_features=3, seed=4, model="quiet", start=datetime.now(UTC) - timedelta(seconds=400))

    async def publish() -> None:
        async with Publisher(kafka_bootstrap, topic=worker.settings.topics.predictions) as pub:
            for r in recs:
                await pub.publish(r.event)

    worker.start()
    try:
        asyncio.run(publish())
        worker.wait_for(lambda s: s["accepted"] >= n, timeout_s=180)
        deadline = time.monotonic() + 120
        firing: list[Alert] = []
        while time.monotonic() < deadline and not firing:
            time.sleep(2)
            alerts = [
                Alert.model_validate(a)
                for a in asyncio.run(read_topic_json(kafka_bootstrap, worker.settings.topics.alerts))
            ]
            firing = [a for a in alerts if a.kind is AlertKind.EVENT_RATE and a.status is AlertStatus.FIRING]
        assert firing, f"no event_rate alert while the source was silent; worker log:\n{worker.log_tail()}"
        alert = firing[0]
        assert alert.model == "quiet"
        assert alert.evidence["value"] == 0 or alert.evidence["value"] < alert.evidence["band"][0]
        assert alert.starts_at > recs[-1].event.event_time  # raised for windows after the last event
        # the ticks are in the log, so a replay of the partition reproduces the alert exactly
        off = alert.lineage.offsets[0] if alert.lineage.offsets else None
        topic = worker.settings.topics.predictions
        partition = (
            off.partition if off else next(iter(worker.get("/glasswatch/monitors/"))).rsplit(":", 1)[1]
        )
        msgs = asyncio.run(read_range(kafka_bootstrap, topic, int(partition), 0, 10**9))
        result = replay(msgs, model="quiet", spec=load_spec_text(SPEC), close_open=False)
        assert alert.id in {a.id for a in result.alerts}
    finally:
        worker.stop()
