"""Faust wiring: the app, its topics and its tables. No business logic here.

Decisions a successor needs:

* Input topics are read as **raw bytes** (``value_serializer="raw"``). Faust's own decoders
  acknowledge and drop what they cannot decode; we decode in :mod:`glasswatch.ingest.validate`
  so every bad message reaches the dead-letter topic with its reason.
* State lives in one table, ``partition-state``, keyed by the *source* ``topic:partition``
  (compacted changelog, records up to ``STATE_MAX_BYTES``):
  the statistics and the last applied offset are one value, written with one changelog record,
  so a replay after SIGKILL skips what was applied (see :class:`~glasswatch.monitor.stats.PartitionState`).
  Values are zlib-compressed pickles of :class:`~glasswatch.monitor.partition.PartitionState` (River
  objects pickle well); the changelog topic is private to this app, only our own writer produces them.
* Offsets are committed by Faust only after the producer is flushed (changelog and dead letters
  included), which gives at-least-once delivery; the offset check turns it into exactly-once effect.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass
from typing import Any

import faust

from glasswatch.monitor.partition import PartitionState
from glasswatch.settings import Settings

__all__ = ["STATE_MAX_BYTES", "GlasswatchApp", "create_app", "decode_state", "encode_state"]

STATE_MAX_BYTES = 16 * 1024 * 1024
"""Upper bound of one partition's compressed state (changelog record and producer request)."""


def encode_state(state: PartitionState) -> bytes:
    """The table value of a partition's state: a zlib-compressed pickle."""
    return zlib.compress(pickle.dumps(state, protocol=5), 1)


def decode_state(value: bytes) -> PartitionState:
    """Inverse of :func:`encode_state` (only our own writer produces the changelog)."""
    state: PartitionState = pickle.loads(zlib.decompress(value))  # noqa: S301 (our own changelog)
    return state


@dataclass
class GlasswatchApp:
    """The Faust app plus the channels agents need (kept together for wiring and tests)."""

    app: faust.App
    inputs: Any  # faust.TopicT over the prediction, feature and label topics
    dead_letters: Any
    windows: Any
    alerts: Any
    state: Any  # faust.Table[str, bytes]: encode_state(PartitionState) per source partition
    settings: Settings

    def read_state(self, key: str) -> PartitionState | None:
        """The stored state of one source partition (``topic:partition``), if any."""
        value: bytes | None = self.state.get(key)
        return decode_state(value) if value else None

    def read_states(self) -> dict[str, PartitionState]:
        """The stored states of every source partition this worker holds."""
        return {k: decode_state(v) for k, v in self.state.items() if v}


def create_app(settings: Settings) -> GlasswatchApp:
    worker = settings.worker
    worker.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        worker.app_id,
        broker=f"kafka://{settings.kafka.bootstrap}",
        store=worker.store,
        datadir=str(worker.data_dir),
        web_port=worker.web_port,
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
        web_enabled=True,
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        value_serializer="raw",
        key_serializer="raw",
        producer_acks=-1,
        broker_commit_every=2000,
        broker_commit_interval=1.0,
        stream_wait_empty=True,
        table_standby_replicas=0,
        producer_max_request_size=STATE_MAX_BYTES,
    )
    topics = settings.topics
    inputs = app.topic(
        topics.predictions, topics.features, topics.labels, value_serializer="raw", key_serializer="raw"
    )
    dead_letters = app.topic(topics.dead_letters, value_serializer="raw", key_serializer="raw")
    windows = app.topic(topics.windows, value_serializer="raw", key_serializer="raw")
    alerts = app.topic(topics.alerts, value_serializer="raw", key_serializer="raw")
    state = app.Table(
        "partition-state",
        default=None,
        partitions=settings.kafka.partitions,
        key_type=str,
        value_type=bytes,  # zlib-compressed pickled PartitionState, (de)serialised by the agent
        extra_topic_configs={"max.message.bytes": str(STATE_MAX_BYTES), "cleanup.policy": "compact"},
        help="Per source partition: statistics and the last applied offset.",
    )
    return GlasswatchApp(
        app=app,
        inputs=inputs,
        dead_letters=dead_letters,
        windows=windows,
        alerts=alerts,
        state=state,
        settings=settings,
    )
