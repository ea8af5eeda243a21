"""A small publisher for services: batches events into envelopes (the fast path).

>>> # async with Publisher("127.0.0.1:9092") as pub:
>>> #     await pub.publish(PredictionEvent(...))   # batched per model, sent on size or linger
>>> Publisher("127.0.0.1:9092").batch_size
500

Events are keyed by model name, so one model's events stay in one partition and in order.
``batch_size=1`` sends each event as its own message (the slow path, for comparison).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from glasswatch.errors import BrokerError

__all__ = ["Publisher"]


class Publisher:
    """Batching event publisher on aiokafka. Use as an async context manager."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = "glasswatch-predictions",
        batch_size: int = 500,
        linger_s: float = 0.05,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.bootstrap = bootstrap
        self.topic = topic
        self.batch_size = batch_size
        self.linger_s = linger_s
        # idempotence keeps per-partition order and drops duplicates across retries (e.g. NotLeader)
        self._options = {
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "max_batch_size": 1 << 20,
            **(producer_options or {}),
        }
        self._producer: AIOKafkaProducer | None = None
        self._buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._pending: list[asyncio.Future[Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._send_lock = asyncio.Lock()
        self.sent_messages = 0
        self.sent_events = 0

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **self._options)
        try:
            await self._producer.start()
        except Exception as exc:
            await self._producer.stop()
            raise BrokerError(f"cannot reach Kafka at {self.bootstrap}: {exc}") from exc

    async def publish(self, event: BaseModel | dict[str, Any]) -> None:
        """Queue one event; it is sent when its model's batch is full or after ``linger_s``."""
        doc = event.model_dump(mode="json") if isinstance(event, BaseModel) else event
        model = str(doc.get("model", ""))
        buf = self._buffers[model]
        buf.append(doc)
        if len(buf) >= self.batch_size:
            await self._flush_model(model)
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.linger_s, lambda: asyncio.ensure_future(self.flush_buffers()))

    async def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send one message as-is (used by the simulator for malformed input)."""
        producer = self._require()
        async with self._send_lock:
            self._pending.append(await producer.send(self.topic, value=value, key=key))
        self.sent_messages += 1

    async def _flush_model(self, model: str) -> None:
        # One sender at a time: a linger flush must not overtake a size flush that is still
        # waiting in ``producer.send`` (e.g. for metadata), or events would leave out of order.
        async with self._send_lock:
            await self._flush_model_locked(model)

    async def _flush_model_locked(self, model: str) -> None:
        docs = self._buffers.pop(model, [])
        if not docs:
            return
        producer = self._require()
        if len(docs) == 1:
            value = orjson.dumps(docs[0])
        else:
            value = orjson.dumps({"schema_version": 1, "type": "batch", "events": docs})
        self._pending.append(await producer.send(self.topic, value=value, key=model.encode()))
        self.sent_messages += 1
        self.sent_events += len(docs)
        if len(self._pending) > 1000:
            await self._drain()

    async def flush_buffers(self) -> None:
        self._timer = None
        for model in list(self._buffers):
            await self._flush_model(model)

    async def _drain(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def flush(self) -> None:
        """Send everything buffered and wait until the broker acknowledged it."""
        await self.flush_buffers()
        await self._drain()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._producer is not None:
            try:
                await self.flush()
            finally:
                await self._producer.stop()
                self._producer = None

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("Publisher is not started: use 'async with Publisher(...)'")
        return self._producer
