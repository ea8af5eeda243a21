"""Workers of one group with different state keys: the worker stops instead of dropping state.

A partition state signed with another worker's key is a misconfigured consumer group
(``GLASSWATCH_WORKER__STATE_KEY`` not shared). The worker logs it once at CRITICAL and exits; the
stored state is not written over and the batch it met is not committed, so once the key is fixed
the partition goes on from where it was, counting every event exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glasswatch.commands.simulate import simulate_traffic

from .worker_process import FAST_GROUP, WorkerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(kafka_bootstrap, tmp_path, partitions=1)
    w.extra_env.update(FAST_GROUP)  # the crashed worker's session must not hold up its restart
    yield w
    w.stop()


def _send(w: WorkerProcess, events: int, seed: int) -> None:
    sent = asyncio.run(simulate_traffic(w.settings, model="churn", events=events, batch_size=100, seed=seed))
    assert sent["good"] == events


def test_a_state_signed_with_another_key_stops_the_worker_and_loses_nothing(worker: WorkerProcess) -> None:
    worker.start()
    _send(worker, 400, seed=1)
    worker.wait_for(lambda s: s["accepted"] == 400)
    time.sleep(2.5)  # past Faust's 1 s commit interval: the consumer offset is committed
    worker.stop()
    stored = [(r.coord, r.value) for r in worker.state_changelog()]
    assert stored

    other_key = "the key of a worker configured apart from its group"
    worker.extra_env["GLASSWATCH_WORKER__STATE_KEY"] = other_key
    worker.start()
    _send(worker, 300, seed=2)
    assert worker.proc is not None
    worker.proc.wait(120)  # it stops by itself
    log = worker.log_path.read_text(errors="replace")
    assert log.count("CRITICAL") >= 1 and "must share GLASSWATCH_WORKER__STATE_KEY" in log
    assert other_key not in log
    assert [(r.coord, r.value) for r in worker.state_changelog()] == stored  # nothing written over it

    del worker.extra_env["GLASSWATCH_WORKER__STATE_KEY"]  # its own key again (data_dir/state.key)
    worker.start()
    snap = worker.wait_for(lambda s: s["accepted"] >= 700)
    time.sleep(2.5)
    snap = worker.stats() or snap
    assert snap["accepted"] == 700  # the 300 were not committed past: applied now, exactly once
