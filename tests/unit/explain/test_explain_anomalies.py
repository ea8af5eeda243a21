"""Anomaly-flagged predictions are explained too: the worker's scorer, rebuilt in the explain
process, flags the same events; flagged ones share the CPU budget; a replay flags alike."""

from __future__ import annotations

import asyncio
import json
import random
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition

from glasswatch.agents.explain import ExplainRuntime
from glasswatch.agents.explain_models import ResolvedModel, Unavailable
from glasswatch.explain.anomalies import AnomalySampler
from glasswatch.explain.sampling import SampleRates
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.specs import MonitorSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = MonitorSpec(model="m", seed=5,
                   anomaly={"warmup_events": 200, "window_size": 50, "stride": 1, "q": 0.995})
OUTLIERS = {400, 650, 900}


def _features(n: int = 1000) -> list[dict[str, float]]:
    rng = random.Random(11)
    out = [{"a": rng.gauss(0, 1), "b": rng.gauss(5, 1)} for _ in range(n)]
    for i in OUTLIERS:
        out[i] = {"a": 9.0, "b": -4.0}
    return out


def test_the_sampler_flags_what_the_model_monitors_scorer_flags() -> None:
    worker = ModelMonitor(SPEC).scorer
    assert worker is not None
    sampler = AnomalySampler(lambda model: SPEC)
    ours, theirs = [], []
    for f in _features():
        ours.append(sampler.update("m", f).flagged)
        theirs.append(worker.update(f).flag == 1.0)
    assert ours == theirs
    assert {i for i, flagged in enumerate(ours) if flagged} >= OUTLIERS
    assert 3 <= sum(ours) < 40  # the planted outliers and the scorer's quantile share, not every event


def test_a_disabled_scorer_flags_nothing_and_scorers_are_bounded() -> None:
    off = MonitorSpec(model="m", anomaly={"enabled": False})
    sampler = AnomalySampler(lambda model: off, max_models=3)
    assert not any(sampler.update("m", f).flagged for f in _features())
    for i in range(10):
        sampler.update(f"m{i}", {"a": 1.0})
    assert list(sampler.scorers) == ["m7", "m8", "m9"]
    with pytest.raises(ValueError, match="max_models"):
        AnomalySampler(lambda model: off, max_models=0)


# -- the runtime ------------------------------------------------------------------------------
@dataclass
class Record:
    value: bytes
    timestamp: int


class Consumer:
    """Hands out the records in batches of ``batch``, one batch per ``getmany``."""

    def __init__(self, records: list[Record], batch: int) -> None:
        self.batches = [records[i:i + batch] for i in range(0, len(records), batch)]

    async def getmany(self, timeout_ms: int = 0, max_records: int = 0) -> dict[TopicPartition, list[Record]]:
        return {TopicPartition("p", 0): self.batches.pop(0)} if self.batches else {}

    async def commit(self) -> None:
        return None


class Pool(Executor):
    """Takes work and never finishes it (what was submitted is inspected)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        return Future()


class Resolver:
    def resolve(self, model: str, version: str) -> ResolvedModel | Unavailable:
        return ResolvedModel(model=model, version=version, model_dir="/nowhere", features=("a", "b"),
                             tree=True)


def _records() -> list[Record]:
    out = []
    for i, f in enumerate(_features()):
        t = T0 + timedelta(seconds=i)
        event = {"type": "prediction", "model": "m", "model_version": "1", "prediction_id": f"p-{i}",
                 "event_time": t.isoformat(), "features": f}
        out.append(Record(json.dumps(event).encode(), int(t.timestamp() * 1000)))
    return out


def _run(batch: int, max_pending: int) -> ExplainRuntime:
    rt = ExplainRuntime(bootstrap="unused:1", predictions_topic="p", explanations_topic="x",
                        alerts_topic="a", resolver=Resolver(), pool=Pool(), max_pending=max_pending,
                        spec_for=lambda model: SPEC)
    rt.rates = SampleRates(default=0.0)  # only the anomalies are explained
    consumer = Consumer(_records(), batch)
    rt._consumer = consumer  # type: ignore[assignment]

    async def main() -> None:
        while consumer.batches:
            await rt.poll()

    asyncio.run(main())
    return rt


def _submitted(rt: ExplainRuntime) -> list[tuple[str, str]]:
    tasks = [rt._tasks.get_nowait() for _ in range(rt._tasks.qsize())]
    return [(e.prediction_id, reason) for t in tasks for e, reason in t.events]


def test_flagged_predictions_are_explained_with_reason_anomaly_and_a_replay_picks_the_same() -> None:
    scorer = ModelMonitor(SPEC).scorer
    assert scorer is not None
    expected = [f"p-{i}" for i, f in enumerate(_features()) if scorer.update(f).flag == 1.0]
    rt = _run(batch=100, max_pending=100)
    got = _submitted(rt)
    assert [pid for pid, _ in got] == expected and {r for _, r in got} == {"anomaly"}
    assert rt.stats.anomalies == rt.stats.sampled == len(expected) >= len(OUTLIERS)
    assert {f"p-{i}" for i in OUTLIERS} <= set(expected)
    again = _run(batch=37, max_pending=100)  # a replay, polled in other batches
    assert _submitted(again) == got


def test_anomaly_explanations_share_the_cpu_budget_skipped_and_counted_when_behind() -> None:
    rt = _run(batch=100, max_pending=1)
    kept = _submitted(rt)
    assert len(kept) >= 1
    assert rt.stats.skipped_anomalies == rt.stats.skipped_behind == rt.stats.anomalies - len(kept) > 0


def test_without_specs_nothing_is_scored() -> None:
    rt = ExplainRuntime(bootstrap="unused:1", predictions_topic="p", explanations_topic="x",
                        alerts_topic="a", resolver=Resolver(), pool=Pool(), spec_for=None)
    assert rt.anomalies is None
