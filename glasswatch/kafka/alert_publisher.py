"""The alerts topic's record format, and a publisher for alerts raised outside the worker.

* :func:`alert_record` — the one place an :class:`~glasswatch.schemas.alert.Alert` becomes an
  alerts-topic record: key = fingerprint (every state of one alert lands in one partition, in
  order), value = the alert's JSON, which the router reads back with
  ``Alert.model_validate_json``. The ingest agent and :class:`AlertPublisher` both use it.
* :class:`AlertPublisher` — a callable on one alert (a training
  :data:`~glasswatch.training.alert_sink.AlertSink`): starts an aiokafka producer, sends the
  record, waits for the broker's acknowledgement and stops, all within ``timeout_s``; raises
  :class:`~glasswatch.errors.BrokerError` when that fails (no broker, unknown topic, slow). It
  is synchronous for commands without an event loop (``glasswatch train``); :meth:`publish` is
  the async form.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.schemas.alert import AlertKind, Severity
>>> a = Alert.build(kind=AlertKind.QUALITY_GATE, severity=Severity.WARNING, model="churn",
...                 signal="gate:roc_auc", summary="refused",
...                 starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> key, value = alert_record(a)
>>> key == a.fingerprint.encode(), Alert.model_validate_json(value) == a
(True, True)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from glasswatch.errors import BrokerError
from glasswatch.schemas.alert import Alert

__all__ = ["AlertPublisher", "alert_record"]


def alert_record(alert: Alert) -> tuple[bytes, bytes]:
    """``(key, value)`` of ``alert`` on the alerts topic."""
    return alert.fingerprint.encode(), alert.model_dump_json().encode()


class AlertPublisher:
    """Publishes alerts to ``topic``; links are rewritten to the worker at ``base_url`` (as the
    worker does for its own alerts) when one is given."""

    def __init__(
        self, bootstrap: str, topic: str, *, base_url: str | None = None, timeout_s: float = 5.0
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.bootstrap = bootstrap
        self.topic = topic
        self.base_url = base_url
        self.timeout_s = timeout_s

    def __call__(self, alert: Alert) -> None:
        asyncio.run(self.publish([alert]))

    async def publish(self, alerts: Sequence[Alert]) -> None:
        """Send ``alerts`` and wait for the acknowledgements (or raise :class:`BrokerError`)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=max(int(self.timeout_s * 1000), 1000),
        )
        try:
            await asyncio.wait_for(self._send(producer, alerts), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BrokerError(
                f"cannot publish to {self.topic} at {self.bootstrap} within {self.timeout_s:g}s "
                f"({type(exc).__name__})"
            ) from exc
        finally:
            await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, alerts: Sequence[Alert]) -> None:
        await producer.start()
        for alert in alerts:
            key, value = alert_record(alert.with_base_url(self.base_url) if self.base_url else alert)
            await producer.send_and_wait(self.topic, value=value, key=key)
