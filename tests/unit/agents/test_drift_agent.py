"""The drift agent without a broker: windows → jobs in the pool → alerts; what it may commit."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from aiokafka import TopicPartition

from glasswatch.agents import drift as agent
from glasswatch.agents.drift import DriftRuntime
from glasswatch.agents.drift_windows import DriftJob
from glasswatch.drift.reference import InMemoryReferenceStore, Reference
from glasswatch.drift.window import DriftWindow, DriftWindowCloser
from glasswatch.monitor.replay import Message
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.alert import AlertKind
from glasswatch.schemas.coords import Coord, OffsetRange

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, key, value))


class CountingPool(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.jobs = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


def messages(shift: float, n: int = 400) -> list[Message]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        doc = {"type": "prediction", "model": "m", "model_version": "1", "prediction_id": f"p{i}",
               "event_time": (T0 + timedelta(seconds=i)).isoformat(),
               "features": {"x": float(rng.normal(shift)), "y": float(rng.normal())}, "prediction": 1}
        out.append(Message(Coord("preds", 0, i), orjson.dumps(doc)))
    return out


def window(version: str | None = "1") -> DriftWindow:
    return DriftWindow(model="m", model_version=version, start=T0, end=T0 + timedelta(hours=1),
                       offsets=(OffsetRange(topic="preds", partition=0, first=0, last=399),))


@pytest.fixture
def runtime() -> DriftRuntime:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300), "target": 1})
    reference = Reference(model="m", version="1", data=ref, uri="mem://r", sha256="a" * 64,
                          features=("x", "y"), target="target")
    store = InMemoryReferenceStore({("m", "1"): reference})
    rt = DriftRuntime(bootstrap="unused:9092", windows_topic="w", alerts_topic="alerts", store=store,
                      pool=CountingPool(), base_url="http://worker:6066")
    rt._producer = FakeProducer()  # type: ignore[assignment]
    return rt


def test_a_window_runs_in_the_pool_is_logged_and_alerts(runtime: DriftRuntime,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    async def read(bootstrap: str, w: DriftWindow, **_: Any) -> list[Message]:
        return messages(2.0)

    monkeypatch.setattr(agent, "read_window", read)
    alerts = asyncio.run(runtime.handle(window()))
    assert runtime.pool.jobs == 1  # type: ignore[attr-defined]
    store = runtime.store
    assert isinstance(store, InMemoryReferenceStore) and len(store.runs) == 1
    assert [a.kind for a in alerts][:2] == [AlertKind.DATA_DRIFT, AlertKind.FEATURE_DRIFT]
    assert alerts[0].lineage.mlflow_run_id == "run-0"
    assert alerts[0].links.dashboard.startswith("http://worker:6066/")
    producer = runtime._producer
    assert isinstance(producer, FakeProducer) and [t for t, _, _ in producer.sent] == ["alerts"] * len(alerts)
    assert asyncio.run(runtime.handle(window())) == ()  # same window again: same run, no new alert
    assert len(store.runs) == 1


def test_no_reference_once_per_model(runtime: DriftRuntime) -> None:
    first = asyncio.run(runtime.handle(window("9")))
    assert [a.kind for a in first] == [AlertKind.NO_REFERENCE]
    assert asyncio.run(runtime.handle(window("9"))) == ()
    assert runtime.pool.jobs == 0 and runtime.stats.no_reference == 2  # type: ignore[attr-defined]


def test_commits_stop_at_open_and_unfinished_windows(runtime: DriftRuntime) -> None:
    tp = TopicPartition("w", 0)
    closer = runtime.book.closers[tp] = DriftWindowCloser(period_windows=2, min_rows=1)
    runtime.book.seen[tp] = 50
    assert runtime.committable() == {tp: 50}
    summary = WindowSummary(model="m", stream="events", start=T0, end=T0 + timedelta(seconds=10), count=5,
                            model_version="1", offsets=window().offsets)
    closer.update(summary, position=30)  # a drift window opens at windows-topic offset 30
    assert runtime.committable() == {tp: 30}
    runtime.book.pending.append(DriftJob(tp, 12, window()))
    assert runtime.committable() == {tp: 12}
    runtime.pool.shutdown()


def _runtime_like(rt: DriftRuntime) -> DriftRuntime:
    """A second agent on the same store (a restart): empty memory, the same MLflow."""
    twin = DriftRuntime(bootstrap="unused:9092", windows_topic="w", alerts_topic="alerts", store=rt.store,
                        pool=CountingPool(), base_url="http://worker:6066")
    twin._producer = FakeProducer()  # type: ignore[assignment]
    return twin


def test_a_restarted_agent_rebuilds_its_alert_state_from_the_logged_runs(
    runtime: DriftRuntime, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Windows 0-1 shifted, 2-3 clean: killed after window 1, the restarted agent resolves
    exactly what an uninterrupted one resolves (same ids, same content), and raises nothing
    twice."""
    shifts = [2.0, 2.0, 0.0, 0.0]

    def win(i: int) -> DriftWindow:
        span = OffsetRange(topic="preds", partition=0, first=400 * i, last=400 * i + 399)
        return DriftWindow(model="m", model_version="1", start=T0 + timedelta(hours=i),
                           end=T0 + timedelta(hours=i + 1), offsets=(span,))

    async def read(bootstrap: str, w: DriftWindow, **_: Any) -> list[Message]:
        i = w.offsets[0].first // 400
        out = []
        for m in messages(shifts[i]):  # the same rows, moved to the window's offsets and hour
            doc = orjson.loads(m.value)
            doc["event_time"] = (datetime.fromisoformat(doc["event_time"]) + timedelta(hours=i)).isoformat()
            out.append(Message(Coord("preds", 0, 400 * i + m.coord.offset), orjson.dumps(doc)))
        return out

    monkeypatch.setattr(agent, "read_window", read)

    def ids(rt: DriftRuntime, windows: range) -> list[tuple[str, str]]:
        return [(a.id, a.model_dump_json()) for i in windows for a in asyncio.run(rt.handle(win(i)))]

    straight = ids(runtime, range(4))
    assert len(straight) >= 4 and runtime.stats.replayed == 0
    second = InMemoryReferenceStore(runtime.store.references)  # type: ignore[attr-defined]
    first = _runtime_like(runtime)
    first.store = second
    before = ids(first, range(2))  # killed after window 1 (its runs are logged)
    restarted = _runtime_like(first)
    after = ids(restarted, range(2, 4))
    assert restarted.stats.replayed == 2
    assert before + after == straight
    again = _runtime_like(first)  # killed before window 1's commit: window 1 runs again
    assert ids(again, range(1, 4)) == after and again.stats.replayed == 1
