"""Faust's aiokafka transport with a short fetch long-poll (issue 14, latency).

faust-streaming 0.15 creates the worker's consumer with ``fetch_max_wait_ms=1500``. aiokafka
sends one fetch request per broker at a time, and a request sent while a partition still has
buffered records leaves that partition out: so when the predictions partition's records are
being processed, the next request covers only the idle partitions (features, labels) and the
broker holds it for up to 1.5 s, and the predictions that arrive meanwhile wait behind it.
Measured with ``bench/latency.py`` at 1k events/s: the worker's consumer stalled for 1.0–1.5 s
about every 2 s. :data:`FETCH_MAX_WAIT_MS` caps that wait; an idle worker then sends up to ten
fetch requests a second per broker: measured, an idle worker's CPU went from 1.2 % to 1.7 % of a
core (two runs each, interleaved).

:class:`GlasswatchApp <faust.App>` subclasses ``faust.App`` only to use :class:`Transport`; the
rest is Faust's.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver

__all__ = ["FETCH_MAX_WAIT_MS", "FaustApp", "Transport"]

FETCH_MAX_WAIT_MS = 100
"""How long the broker may hold a fetch of the worker's consumer when no data is ready."""


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by its Fetcher at start()
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    """Faust's aiokafka transport whose consumer long-polls at most :data:`FETCH_MAX_WAIT_MS`."""

    Consumer = _Consumer


class FaustApp(faust.App):
    """``faust.App`` on :class:`Transport`."""

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)
