"""A record forged into the worker's changelog topic runs no code: it is refused on restore, the
partition restarts from empty state at the committed offset, and the worker keeps ingesting."""

from __future__ import annotations

import asyncio
import pickle
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from glasswatch.commands.simulate import simulate_traffic
from glasswatch.kafka.state_codec import MAGIC
from glasswatch.monitor.replay import Message

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration


class _WritesMarker:
    """Unpickling it writes ``path`` (``pathlib.Path.write_text``): proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., object], tuple[Path, str]]:
        return (Path.write_text, (self.path, "code ran in the worker"))


def _forged(marker: Path) -> bytes:
    """The unsigned zlib+pickle value of the release before the signed format, carrying the payload."""
    return zlib.compress(pickle.dumps(_WritesMarker(marker), protocol=5), 1)


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(kafka_bootstrap, tmp_path, partitions=1)
    yield w
    w.stop()


def _forge(w: WorkerProcess, like: Message, value: bytes) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=w.settings.kafka.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                like.coord.topic, value, key=like.key, partition=like.coord.partition
            )
        finally:
            await producer.stop()

    asyncio.run(send())


def _ingest(w: WorkerProcess, events: int, seed: int) -> int:
    """Send ``events`` and wait until the worker counts exactly that many since its state began
    (before the changelog is restored the stats page may still show the local store's old value)."""
    sent = asyncio.run(simulate_traffic(w.settings, model="churn", events=events, batch_size=100, seed=seed))
    assert sent["good"] == events
    w.wait_for(lambda s: s["accepted"] == events)
    time.sleep(2.5)  # past Faust's 1 s commit interval: the consumer offset is committed
    snap = w.stats()
    assert snap is not None
    accepted: int = snap["accepted"]
    return accepted


def test_a_forged_changelog_record_is_refused_and_the_worker_keeps_ingesting(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    probe = tmp_path / "probe"
    pickle.loads(zlib.decompress(_forged(probe)))  # proves the payload is live
    assert probe.exists()

    worker.start()
    assert _ingest(worker, 400, seed=1) == 400
    worker.stop()
    records = worker.state_changelog()
    assert records and all(r.value is not None and r.value.startswith(MAGIC) for r in records)  # signed

    # 1. the default: an unsigned value is refused before anything is unpickled
    marker = tmp_path / "pwned-default"
    _forge(worker, records[-1], _forged(marker))
    worker.start()
    assert _ingest(worker, 300, seed=2) == 300  # empty state from the committed offset: new events only
    assert not marker.exists()
    log = worker.log_path.read_text(errors="replace")
    assert "refused (legacy)" in log and "restarts from empty state at the committed offset" in log
    worker.stop()

    # 2. even with the previous release's format accepted, the allowlist refuses the payload
    records = worker.state_changelog()
    assert records[-1].value is not None and records[-1].value.startswith(MAGIC)  # written back signed
    marker = tmp_path / "pwned-legacy"
    _forge(worker, records[-1], _forged(marker))
    worker.extra_env["GLASSWATCH_WORKER__ACCEPT_LEGACY_STATE"] = "true"
    worker.start()
    assert _ingest(worker, 200, seed=3) == 200
    assert not marker.exists()
    log = worker.log_path.read_text(errors="replace")
    assert "refused (forbidden)" in log and "pathlib" in log
    assert worker.alive
