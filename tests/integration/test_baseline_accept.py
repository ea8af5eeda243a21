"""``glasswatch baseline accept`` end to end: a worker on the real broker resolves a persistent
shift once, keeps quiet at the new level, does not apply the accept again after a restart, and a
replay applies it at the same point (same alerts, ids and evidence)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glasswatch.cli import app
from glasswatch.client import Publisher
from glasswatch.commands.dlq import read_topic_json
from glasswatch.kafka.admin import ensure_topics, glasswatch_topics
from glasswatch.kafka.reader import read_topic
from glasswatch.monitor.windows import Located
from glasswatch.schemas import Alert, AlertStatus
from glasswatch.testing.simulate import simulate

from .worker_process import FAST_GROUP, WorkerProcess

pytestmark = pytest.mark.integration

MODEL = "shift"
SPEC = f"""model: {MODEL}
window: {{size_seconds: 10}}
anomaly: {{enabled: false}}
default:
  dynamic: {{warmup: 5}}
  detectors: [{{kind: page_hinkley, warmup: 5}}]
"""
# 20 events/s, 10 s windows: 5 warm-up windows, then x0 shifts for good at event 1400
PHASE1, PHASE2, PHASE3 = 3000, 6000, 7000


def _publish(bootstrap: str, topic: str, recs: list[Located]) -> None:
    async def go() -> None:
        async with Publisher(bootstrap, topic=topic, batch_size=500) as pub:
            for r in recs:
                await pub.publish(r.event)

    asyncio.run(go())


def _alerts(w: WorkerProcess) -> list[Alert]:
    raw = asyncio.run(read_topic_json(w.settings.kafka.bootstrap, w.settings.topics.alerts))
    return [Alert.model_validate(a) for a in raw if a.get("model") == MODEL]


def _x0(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.signal.startswith("feature:x0:")]


def test_accept_resolves_once_survives_a_restart_and_replays(kafka_bootstrap: str, tmp_path: Path) -> None:
    spec = tmp_path / "monitors.yaml"
    spec.write_text(SPEC)
    w = WorkerProcess(kafka_bootstrap, tmp_path)
    w.extra_env = {**FAST_GROUP, "GLASSWATCH_WORKER__MONITOR_SPECS": str(spec)}
    env = w.env()
    recs = simulate(PHASE3, n_features=2, rate=20, change="mean_shift", change_at=1400, magnitude=1.0,
                    seed=5, model=MODEL, start=datetime.now(UTC) - timedelta(seconds=600))  # fmt: skip
    at = recs[PHASE1].event.event_time
    topic = w.settings.topics.predictions
    runner = CliRunner()
    asyncio.run(ensure_topics(kafka_bootstrap, glasswatch_topics(w.settings)))
    w.start()
    try:
        _publish(kafka_bootstrap, topic, recs[:PHASE1])
        w.wait_for(lambda s: s["accepted"] >= PHASE1, timeout_s=90)
        deadline = time.monotonic() + 30
        while not _x0(_alerts(w)) and time.monotonic() < deadline:
            time.sleep(0.5)
        latest = {a.fingerprint: a for a in _x0(_alerts(w))}  # the conditions open now
        before = [a for a in latest.values() if a.status is AlertStatus.FIRING]
        assert before, list(latest.values())

        done = runner.invoke(app, ["baseline", "accept", MODEL, "--signal", "feature:x0:*", "--by", "tester",
                                   "--note", "new sensor", "--at", at.isoformat()], env=env)  # fmt: skip
        assert done.exit_code == 0, done.output
        accept_id = done.output.split()[1].rstrip(":")
        assert f"model {MODEL}, signal feature:x0:*, from {at.isoformat()}" in done.output
        listed = runner.invoke(app, ["baseline", "list", MODEL], env=env)
        assert listed.exit_code == 0 and accept_id in listed.output and "new sensor" in listed.output

        _publish(kafka_bootstrap, topic, recs[PHASE1:PHASE2])  # still shifted: the new normal
        w.wait_for(lambda s: s["accepted"] >= PHASE2, timeout_s=90)
        after = _x0(_alerts(w))
        resolves = [a for a in after if "accept_id" in a.evidence]
        assert {a.fingerprint for a in resolves} == {a.fingerprint for a in before}
        assert all(a.status is AlertStatus.RESOLVED for a in resolves)
        assert {a.evidence["accept_id"] for a in resolves} == {accept_id}
        assert all(a.ends_at == at and "accept_late" not in a.evidence for a in resolves)
        assert [a for a in after if a.status is AlertStatus.FIRING and a.starts_at > at] == []

        w.stop()  # a restarted worker reads the accept again and does not apply it twice
        w.start()
        _publish(kafka_bootstrap, topic, recs[PHASE2:])
        w.wait_for(lambda s: s["accepted"] >= PHASE3, timeout_s=90)
        final = _x0(_alerts(w))
        assert {a.id for a in final if "accept_id" in a.evidence} == {a.id for a in resolves}
        assert [a for a in final if a.status is AlertStatus.FIRING and a.starts_at > at] == []
        assert "applied late" not in w.log_path.read_text(errors="replace")
        worker_alerts = {a.id: a for a in _alerts(w)}
    finally:
        w.stop()

    part = before[0].lineage.offsets[0].partition
    msgs = asyncio.run(read_topic(kafka_bootstrap, topic))
    last = max(m.coord.offset for m in msgs if m.coord.partition == part)
    args = ["replay", "--model", MODEL, "--offsets", f"{topic}:{part}:0-{last}", "--from", "0",
            "--through", str(last), "--spec", str(spec), "--json", "--trust-ticks"]  # fmt: skip
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    replayed = {a["id"]: Alert.model_validate(a) for a in report["alerts"]}
    assert set(replayed) == set(worker_alerts)
    for a in resolves:
        assert replayed[a.id].evidence == a.evidence and replayed[a.id].ends_at == a.ends_at
