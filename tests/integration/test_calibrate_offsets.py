"""``glasswatch calibrate --offsets`` reads a clean history from the real broker (issue 11).

A clean stream of one model, another model's events and a malformed message are published to a
fresh topic; calibrating from the topic's offsets must give the spec the library gives on the
published events (the messages are decoded as a replay decodes them; the other model and the
malformed message are left out), written as YAML that ``load_specs`` reads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from kafka_helpers import create_topic, unique_topic
from typer.testing import CliRunner

from glasswatch.cli import app
from glasswatch.client import Publisher
from glasswatch.monitor.calibration import calibrate_spec
from glasswatch.monitor.specs import load_specs
from glasswatch.testing.simulate import simulate

pytestmark = pytest.mark.integration

SPEC = """model: cal
window: {size_seconds: 1}
anomaly: {enabled: false}
default:
  detectors: [{kind: adwin}, {kind: kswin, params: {alpha: 0.0001}}]
signals:
  "latency:*": {enabled: false}
---
model: other
"""


def test_calibrating_from_offsets_matches_the_library_on_the_same_events(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = unique_topic("calibrate")
    clean = simulate(8_000, n_features=3, seed=11, model="cal")
    other = simulate(500, n_features=2, seed=12, model="other")

    async def publish() -> int:
        await create_topic(kafka_bootstrap, topic)
        async with Publisher(kafka_bootstrap, topic=topic, batch_size=200) as pub:
            for r in [*other[:250], *clean, *other[250:]]:
                await pub.publish(r.event)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            sent = await producer.send_and_wait(topic, b'{"type": "prediction", "model": "cal"')
        finally:
            await producer.stop()
        return int(sent.offset) + 1

    messages = asyncio.run(publish())
    spec_file, out = tmp_path / "specs.yaml", tmp_path / "calibrated.yaml"
    spec_file.write_text(SPEC)
    result = CliRunner().invoke(
        app,
        ["calibrate", "cal", "--offsets", f"{topic}:0:0-{messages - 1}", "--spec", str(spec_file),
         "--false-alarms-per-100k", "40", "--out", str(out)],
        env={"GLASSWATCH_KAFKA__BOOTSTRAP": kafka_bootstrap},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{messages} messages, 8000 events of cal, 1 rejected" in result.stderr
    assert [line.split(":")[0] for line in result.stderr.splitlines() if " -> " in line] == [
        "dynamic", "adwin", "kswin"]  # fmt: skip

    (written,) = load_specs(out)
    (original,) = [s for s in load_specs(spec_file) if s.model == "cal"]
    expected = calibrate_spec(original, clean, false_alarms_per_100k=40.0)
    assert written == expected.calibrated_spec()
    assert written.signals == original.signals and written.window == original.window
    # the values moved from the spec's, each within its share of the budget
    params = {d.kind: d.params for d in written.default.detectors}
    assert written.default.dynamic is not None and written.default.dynamic.k != 5.0
    assert (params["adwin"]["delta"], params["kswin"]["alpha"]) != (0.002, 0.0001)
    assert all(f.met and f.target_per_100k == pytest.approx(40 / 3) for f in expected.families.values())
