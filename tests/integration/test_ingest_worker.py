"""End to end through the real broker: simulated traffic in, stats and dead letters out."""

from __future__ import annotations

import asyncio
import math
import signal
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from glasswatch.commands.dlq import read_topic_json
from glasswatch.commands.simulate import simulate_traffic
from glasswatch.ingest.validate import decode
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.stats import ModelStats
from glasswatch.monitor.windows import Located
from glasswatch.schemas import DeadLetter, PredictionEvent
from glasswatch.testing.traffic import MALFORMED_KINDS, TrafficGenerator

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration

SIM_START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(kafka_bootstrap, tmp_path)
    yield w
    w.stop()


def _expected_stats(model: str, n: int, seed: int) -> dict[str, dict[str, object]]:
    """What the worker must report: the same core code fed the same events in the same order."""
    gen = TrafficGenerator(model=model, seed=seed, start=datetime(2026, 1, 1, tzinfo=UTC))
    ms = ModelStats()
    for doc in gen.events(n):
        ms.update(PredictionEvent.model_validate({**doc, "event_time": "2026-01-01T00:00:00Z"}))
    return ms.summary()["features"]


def _assert_same_stats(actual: dict[str, dict[str, object]], expected: dict[str, dict[str, object]]) -> None:
    assert set(actual) == set(expected)
    for feature, exp in expected.items():
        got = actual[feature]
        for key, value in exp.items():
            if isinstance(value, float):
                assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-9), (feature, key)  # type: ignore[arg-type]
            else:
                assert got[key] == value, (feature, key)


def _assert_metrics_agree(url: str, accepted: int, rejects: dict[str, int]) -> None:
    """``/metrics`` (a default Prometheus scrape: no trailing slash) and ``/metrics/`` report the
    same counts as the stats page, in the text format prometheus-client's parser reads."""
    for path in ("/metrics", "/metrics/"):
        with urllib.request.urlopen(url + path, timeout=30) as resp:  # noqa: S310 (local worker)
            assert resp.status == 200
            assert resp.headers["Content-Type"] == CONTENT_TYPE_LATEST
            text = resp.read().decode("utf-8")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        assert samples["glasswatch_events_accepted_total", ()] == accepted
        rejected = "glasswatch_events_rejected_total"
        got = {dict(k)["reason"]: v for (n, k), v in samples.items() if n == rejected}
        assert {r: v for r, v in got.items() if v} == rejects
        churn = (("model", "churn"), ("type", "prediction"))
        assert samples["glasswatch_model_events_total", churn] == accepted
        assert samples["glasswatch_ingest_messages_total", ()] > 0
        assert samples["process_resident_memory_bytes", ()] > 0


def test_good_events_counted_and_every_malformed_one_dead_lettered(worker: WorkerProcess) -> None:
    n_good, n_bad = 3000, 3 * len(MALFORMED_KINDS)
    worker.start()
    sent = asyncio.run(
        simulate_traffic(worker.settings, model="churn", events=n_good, bad=n_bad, batch_size=100, seed=11)
    )
    assert sent["good"] == n_good and sent["bad"] == n_bad

    snap = worker.wait_for(lambda s: s["accepted"] >= n_good and s["rejected"] >= n_bad)
    assert snap["accepted"] == n_good
    assert snap["rejects"] == {kind: 3 for kind in MALFORMED_KINDS}
    model = snap["models"]["churn"]
    assert model["events"] == {"prediction": n_good}
    _assert_same_stats(model["features"], _expected_stats("churn", n_good, seed=11))
    _assert_metrics_agree(worker.url, n_good, {kind: 3 for kind in MALFORMED_KINDS})

    letters = [
        DeadLetter.model_validate(d)
        for d in asyncio.run(
            read_topic_json(worker.settings.kafka.bootstrap, worker.settings.topics.dead_letters)
        )
    ]
    assert Counter(d.reason for d in letters) == {kind: 3 for kind in MALFORMED_KINDS}
    good_ids = {f"churn-11-{i}" for i in range(n_good)}
    for d in letters:
        assert d.source_topic == worker.settings.topics.predictions
        assert d.source_offset >= 0 and d.detail and d.error_class
        assert d.raw_size > 0 and len(d.raw_sha256) == 64
        # zero good events in the dead-letter topic
        assert not decode(d.raw_bytes(), now=datetime.now(UTC)).events or d.raw_truncated
        assert not any(f"\"{pid}\"".encode() in d.raw_bytes() for pid in sorted(good_ids)[:50])
    oversize = [d for d in letters if d.reason == "oversize"]
    assert all(
        d.raw_truncated and d.raw_size > worker.settings.validation.max_message_bytes for d in oversize
    )


def _uninterrupted(bootstrap: str, model: str, topic: str, partition: int) -> tuple[str, set[str]]:
    """Digest and alert ids of a monitor fed the partition's events of ``model`` in one go."""
    from glasswatch.ingest.validate import Limits
    from glasswatch.kafka.reader import read_range

    msgs = asyncio.run(read_range(bootstrap, topic, partition, 0, 10**9))
    no_skew = Limits(max_clock_skew_s=math.inf, max_age_s=math.inf)
    recs = [
        Located(ev, m.coord)
        for m in msgs
        for ev in decode(m.value, now=datetime.now(UTC), limits=no_skew).events
        if ev.model == model
    ]
    mon = ModelMonitor(MonitorSpec(model=model))
    alert_ids: set[str] = set()
    for i in range(0, len(recs), 777):
        alert_ids |= {a.id for a in mon.update_many(recs[i : i + 777]).alerts}
    return mon.state_digest(), alert_ids


def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(worker: WorkerProcess) -> None:
    """Single-event messages (the slow path) so the kill lands mid-stream; two models, two partitions.

    After the restart the statistics equal an uninterrupted computation, each model's monitor
    has the *same state digest* as a monitor fed the same events without interruption, and the
    alerts topic holds exactly the uninterrupted run's alerts (re-sent copies share their id).
    """
    n = 12_000
    models = ["alpha", "beta"]
    for m in models:
        asyncio.run(
            simulate_traffic(worker.settings, model=m, events=n, batch_size=1, seed=5, start=SIM_START)
        )
    worker.start()
    worker.wait_for(lambda s: s["accepted"] >= 3000, timeout_s=120)
    worker.kill(signal.SIGKILL)
    first_run = worker.log_tail()
    worker.start()
    snap = worker.wait_for(lambda s: s["accepted"] >= 2 * n, timeout_s=300)
    assert snap["accepted"] == 2 * n, first_run
    monitors = worker.get("/glasswatch/monitors/")
    alerts = asyncio.run(read_topic_json(worker.settings.kafka.bootstrap, worker.settings.topics.alerts))
    for m in models:
        assert snap["models"][m]["events"] == {"prediction": n}
        _assert_same_stats(snap["models"][m]["features"], _expected_stats(m, n, seed=5))
        (key,) = [k for k, v in monitors.items() if m in v]
        topic, partition = key.rsplit(":", 1)
        digest, alert_ids = _uninterrupted(worker.settings.kafka.bootstrap, m, topic, int(partition))
        assert monitors[key][m]["digest"] == digest
        assert {a["id"] for a in alerts if a["model"] == m} == alert_ids
