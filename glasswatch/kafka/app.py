"""Faust wiring: the app, its topics and its tables. No business logic here.

Decisions a successor needs:

* Input topics are read as **raw bytes** (``value_serializer="raw"``). Faust's own decoders
  acknowledge and drop what they cannot decode; we decode in :mod:`glasswatch.ingest.validate`
  so every bad message reaches the dead-letter topic with its reason.
* State lives in one table, ``partition-state``, keyed by the *source* ``topic:partition``
  (compacted changelog, records up to ``STATE_MAX_BYTES``):
  the statistics and the last applied offset are one value, written with one changelog record,
  so a replay after SIGKILL skips what was applied (see :class:`~glasswatch.monitor.stats.PartitionState`).
  Values are :class:`~glasswatch.monitor.partition.PartitionState` in the signed envelope of
  :mod:`glasswatch.kafka.state_codec` (restricted pickles, HMAC-keyed by the worker's secret), one
  part per model so a batch re-pickles only the models it touched, and the live state stays in
  memory between batches (:mod:`glasswatch.kafka.state_store`, dropped on every rebalance): a
  record forged into the changelog is refused, never run, and the partition restarts from empty
  state at the committed offset; so does one the codec cannot read (logged once with what to do).
  A record signed with another worker's key is a misconfigured group, not an attack:
  :meth:`GlasswatchApp.read_state` raises :class:`~glasswatch.errors.ConfigError` and the ingest
  agent stops the worker, leaving the state as it is.
* Offsets are committed by Faust only after the producer is flushed (changelog and dead letters
  included), which gives at-least-once delivery; the offset check turns it into exactly-once effect.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import faust

from glasswatch.errors import ConfigError, StateRefused
from glasswatch.kafka.state_codec import MAGIC, StateCodec
from glasswatch.kafka.state_store import StateStore
from glasswatch.kafka.transport import FaustApp
from glasswatch.monitor.partition import PartitionState
from glasswatch.settings import Settings

__all__ = ["STATE_MAX_BYTES", "GlasswatchApp", "create_app", "decode_state", "encode_state"]

STATE_MAX_BYTES = 16 * 1024 * 1024
"""Upper bound of one partition's compressed state (changelog record and producer request)."""


log = logging.getLogger(__name__)


def encode_state(state: PartitionState, codec: StateCodec) -> bytes:
    """The table value of a partition's state: its parts signed by ``codec``
    (:mod:`~glasswatch.kafka.state_codec`, :mod:`~glasswatch.kafka.state_store`)."""
    return StateStore(codec).encode("", state, changed=None)


def decode_state(value: bytes, codec: StateCodec) -> PartitionState:
    """Inverse of :func:`encode_state`; raises :class:`~glasswatch.errors.StateRefused`.

    A state of the previous release (read only with ``accept_legacy_state``) keeps its statistics,
    counters, dead-letter rate and offset; its model monitors are dropped (their classes changed
    since) and restart their warm-up with the next events."""
    return StateStore(codec).decode(value)


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
    codec: StateCodec
    """Signs the state values and checks them on read (the worker's key)."""
    _logged: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)
    """(key, value digest) of the refused and legacy values already logged."""
    store: StateStore = field(init=False, repr=False)
    """The live states between batches and the parts they were written as."""

    def __post_init__(self) -> None:
        self.store = StateStore(self.codec)

    def read_state(self, key: str) -> PartitionState | None:
        """The stored state of one source partition (``topic:partition``); None if there is none
        or the codec refuses it (logged once per value: the partition restarts from empty state).

        Raises :class:`~glasswatch.errors.ConfigError` for a value signed with another worker's
        key (``foreign_key``): the consumer group is misconfigured, and restarting from empty state
        would throw the partition's statistics and monitors away; the value is left as it is."""
        value: bytes | None = self.state.get(key)
        if not value:
            return None
        live = self.store.take(key, value)  # the caller may change it: out until written again
        if live is not None:
            return live
        try:
            return self._decode(key, value, foreign_fatal=True)
        except StateRefused as exc:  # foreign_key only: every other refusal is None
            raise ConfigError(
                f"partition state of {key} is signed with another worker's state key: workers of one "
                f"consumer group must share GLASSWATCH_WORKER__STATE_KEY. Give every worker of "
                f"{self.settings.worker.app_id!r} the same key and restart; the stored state is kept "
                f"({exc.detail})"
            ) from None

    def read_states(self) -> dict[str, PartitionState]:
        """The stored states of every source partition this worker holds (refused ones left out)."""
        states = {k: self.store.peek(k, v) or self._decode(k, v) for k, v in self.state.items() if v}
        return {k: st for k, st in states.items() if st is not None}

    def write_state(self, key: str, state: PartitionState, changed: Collection[str] | None = None) -> None:
        """Store a partition's state (call within the event context of its last message).

        ``changed``: the models whose statistics or monitor changed since :meth:`read_state`
        returned ``state`` (the others' stored parts are re-used); None, every model."""
        self.state[key] = self.store.encode(key, state, changed)

    def _decode(self, key: str, value: bytes, *, foreign_fatal: bool = False) -> PartitionState | None:
        """The decoded state, None if refused (logged once per value); with ``foreign_fatal`` a
        ``foreign_key`` refusal is raised instead (unlogged: the caller reports it)."""
        try:
            state = self.store.decode(value)
        except StateRefused as exc:
            if exc.reason == "foreign_key" and foreign_fatal:
                raise
            if self._first_time(key, value):
                log.error(
                    "partition state of %s refused (%s): %s. The partition restarts from empty state "
                    "at the committed offset (statistics and monitors before it are not carried over)",
                    key,
                    exc.reason,
                    exc,
                )
            return None
        if not bytes(value).startswith(MAGIC) and self._first_time(key, value):
            log.warning(
                "partition state of %s read from the previous release's unsigned format: statistics, "
                "counters and offset carried over, model monitors restart their warm-up (alerts they "
                "had open are not carried over); it is signed when the partition is next written",
                key,
            )
        return state

    def _first_time(self, key: str, value: bytes) -> bool:
        seen = (key, hashlib.sha256(value).hexdigest())
        new = seen not in self._logged
        self._logged.add(seen)
        return new


def create_app(settings: Settings) -> GlasswatchApp:
    worker = settings.worker
    worker.data_dir.mkdir(parents=True, exist_ok=True)
    codec = StateCodec.from_settings(worker)
    app = FaustApp(  # Faust's, with a short fetch long-poll (kafka/transport.py)
        worker.app_id,
        broker=f"kafka://{settings.kafka.bootstrap}",
        store=worker.store,
        datadir=str(worker.data_dir),
        web_port=worker.web_port,
        web_host="127.0.0.1",
        web_bind=worker.web_host,  # 0.0.0.0 in the container; web_host above only names the canonical URL
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
        value_type=bytes,  # encode_state(PartitionState): signed envelope, (de)serialised by the agent
        extra_topic_configs={"max.message.bytes": str(STATE_MAX_BYTES), "cleanup.policy": "compact"},
        help="Per source partition: statistics and the last applied offset.",
    )
    gw = GlasswatchApp(
        app=app,
        inputs=inputs,
        dead_letters=dead_letters,
        windows=windows,
        alerts=alerts,
        state=state,
        settings=settings,
        codec=codec,
    )

    async def forget_live_states(*_: Any, **__: Any) -> None:  # read back what the changelog holds
        gw.store.clear()

    app.on_partitions_revoked.connect(forget_live_states)
    app.on_partitions_assigned.connect(forget_live_states)
    return gw
