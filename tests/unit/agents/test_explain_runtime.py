"""The explain runtime's bookkeeping without Kafka: bounded queue, incomplete rows, unavailable."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from typing import Any

from glasswatch.agents.explain import ExplainRuntime
from glasswatch.agents.explain_models import ResolvedModel, Unavailable
from glasswatch.schemas.alert import Alert, AlertKind
from glasswatch.schemas.events import PredictionEvent

T = datetime(2026, 1, 1, tzinfo=UTC)


class StuckPool(Executor):
    """A pool that is always behind: it accepts work and never finishes it."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return Future()


class Resolver:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def resolve(self, model: str, version: str) -> ResolvedModel | Unavailable:
        self.asked.append((model, version))
        if version == "404":
            return Unavailable("RESOURCE_DOES_NOT_EXIST: no such version")
        return ResolvedModel(
            model=model, version=version, model_dir="/nowhere", features=("a", "b"), tree=True
        )


def _event(i: int, version: str = "1", **features: Any) -> PredictionEvent:
    return PredictionEvent(
        model="m",
        model_version=version,
        prediction_id=f"p-{i}",
        event_time=T,
        features=features or {"a": 1.0, "b": 2.0},
    )


def _runtime(pool: Executor, resolver: Resolver) -> tuple[ExplainRuntime, list[Alert]]:
    rt = ExplainRuntime(
        bootstrap="unused:1",
        predictions_topic="p",
        explanations_topic="x",
        alerts_topic="a",
        resolver=resolver,
        pool=pool,
        max_pending=2,
    )
    published: list[Alert] = []

    async def publish(alerts: tuple[Alert, ...]) -> None:
        published.extend(alerts)

    rt._publish_alerts = publish  # type: ignore[method-assign]
    return rt, published


def test_batches_beyond_max_pending_are_skipped_and_counted_not_queued() -> None:
    pool, resolver = StuckPool(), Resolver()
    rt, _ = _runtime(pool, resolver)

    async def main() -> None:
        for i in range(5):
            await rt._submit(("m", "1"), [(_event(10 * i + j), "sampled") for j in range(3)])

    asyncio.run(main())
    assert pool.submitted == 2 and rt._tasks.qsize() == 2
    assert rt.stats.skipped_behind == 3 * 3


def test_rows_missing_a_model_input_are_incomplete_and_an_unloadable_version_alerts_once() -> None:
    pool, resolver = StuckPool(), Resolver()
    rt, published = _runtime(pool, resolver)

    async def main() -> None:
        await rt._submit(
            ("m", "1"),
            [
                (_event(1, a=1.0), "sampled"),
                (_event(2, a=1.0, b="red"), "sampled"),
                (_event(3, b=1.0), "sampled"),
            ],
        )
        for i in range(3):
            await rt._submit(("m", "404"), [(_event(i, version="404"), "sampled")])

    asyncio.run(main())
    # a column missing, a category where the model takes a number, the other column missing
    assert rt.stats.incomplete == 3 and pool.submitted == 0
    assert rt.stats.unavailable == 3
    assert [a.kind for a in published] == [AlertKind.MODEL_UNAVAILABLE]
    assert "RESOURCE_DOES_NOT_EXIST" in published[0].evidence["reason"]
