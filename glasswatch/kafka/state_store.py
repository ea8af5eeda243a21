"""Partition states kept live between batches, and written as parts that are re-used when unchanged.

The ingest agent used to read (unpickle) and write (pickle, compress, sign) a partition's whole
state on every batch: 40–300 KB, and in a worker's heap the unpickling alone took ~0.2 s, most of
it the garbage collector. Now:

* **Reading** returns the live object this worker wrote last, as long as the table still holds
  the value it was written as (compared by identity, then by equality: a recovery or another
  worker's write puts different bytes there) and no batch has it out. A state is *out* from
  :meth:`StateStore.take` until :meth:`StateStore.encode` stores it again: a batch that failed
  in between may have changed it without writing it, so it is never handed out again and the
  next read decodes the table value. The whole cache is dropped on every partition assignment
  and revocation (:meth:`StateStore.clear`, connected in :func:`~glasswatch.kafka.app.create_app`).
* **Writing** produces one changelog record per partition, as before (the offset stays in the
  same record as the statistics, so the exactly-once effect holds), but in the parts format of
  :mod:`~glasswatch.kafka.state_codec`: the partition's own fields (offset, counters, dead-letter
  rate), then each model's statistics and monitor. A model the batch did not touch keeps the
  bytes it was stored as; only the touched models are pickled again. Which models a batch
  touched is the caller's to say (``changed``; ``None`` = all of them): the ingest agent names
  the models of the events it applied, and all of them when a tick advanced every monitor.

Examples
--------
>>> from glasswatch.kafka.state_codec import StateCodec
>>> from glasswatch.monitor.partition import PartitionState
>>> store = StateStore(StateCodec(b"k" * 32))
>>> st = PartitionState(topic="p", partition=0, last_offset=4)
>>> value = store.encode("p:0", st, changed=None)
>>> store.take("p:0", value) is st, store.take("p:0", value) is st  # out until written again
(True, False)
>>> store.decode(value).last_offset
4
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass, field

from glasswatch.errors import StateRefused
from glasswatch.kafka.state_codec import StateCodec
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.stats import ModelStats

__all__ = ["HEAD", "StateStore", "join_state", "split_state"]

HEAD = "partition"
"""Part name of the partition's own fields (offset, counters, dead-letter rate, ...)."""
_STATS = "stats/"
_MONITOR = "monitor/"


def split_state(state: PartitionState, models: Collection[str] | None = None) -> dict[str, object]:
    """The parts of ``state`` by name: :data:`HEAD`, then ``stats/<model>`` and ``monitor/<model>``
    (only those of ``models`` when given; the head always)."""
    head = copy.copy(state)  # through __getstate__: refuses a state with pending events
    head.models, head.monitors = {}, {}
    parts: dict[str, object] = {HEAD: head}
    for model, ms in state.models.items():
        if models is None or model in models:
            parts[_STATS + model] = ms
    for model, mon in state.monitors.items():
        if models is None or model in models:
            parts[_MONITOR + model] = mon
    return parts


def join_state(parts: dict[str, object]) -> PartitionState:
    """Inverse of :func:`split_state`; a part of the wrong type is refused (``wrong_type``)."""
    head = parts.pop(HEAD, None)
    if not isinstance(head, PartitionState):
        got = type(head).__qualname__
        raise StateRefused("wrong_type", f"the {HEAD!r} part is a {got}, not a PartitionState")
    for name, obj in parts.items():
        if name.startswith(_STATS) and isinstance(obj, ModelStats):
            head.models[name[len(_STATS) :]] = obj
        elif name.startswith(_MONITOR) and isinstance(obj, ModelMonitor):
            head.monitors[name[len(_MONITOR) :]] = obj
        else:
            raise StateRefused("wrong_type", f"state part {name!r} is a {type(obj).__qualname__}")
    return head


@dataclass
class _Entry:
    value: bytes
    state: PartitionState
    blobs: dict[str, bytes]
    out: bool = False


@dataclass
class StateStore:
    """The live state of each partition this worker wrote, with the parts it was written as."""

    codec: StateCodec
    hits: int = 0
    misses: int = 0
    parts_written: int = 0
    parts_reused: int = 0
    _entries: dict[str, _Entry] = field(default_factory=dict, repr=False)

    def take(self, key: str, value: bytes | None) -> PartitionState | None:
        """The live state of ``key`` if ``value`` is what it was last written as and no batch has
        it out; it is then out until :meth:`encode`. None: decode ``value`` instead."""
        entry = self._entries.get(key)
        if entry is None or entry.out or value is None or not (entry.value is value or entry.value == value):
            self.misses += 1
            return None
        self.hits += 1
        entry.out = True
        return entry.state

    def peek(self, key: str, value: bytes | None) -> PartitionState | None:
        """Like :meth:`take` for a reader that changes nothing (the state stays in)."""
        entry = self._entries.get(key)
        if entry is None or entry.out or value is None or not (entry.value is value or entry.value == value):
            return None
        return entry.state

    def encode(self, key: str, state: PartitionState, changed: Collection[str] | None) -> bytes:
        """The table value of ``state``, re-using the stored parts of the models not in
        ``changed`` when ``state`` is the object :meth:`take` handed out; kept as the live state."""
        entry = self._entries.pop(key, None)
        reuse = entry is not None and entry.state is state and changed is not None
        blobs: dict[str, bytes] = {}
        fresh = split_state(state, changed if reuse else None)
        for name in _names(state):
            obj = fresh.get(name)
            if obj is None and entry is not None and reuse and name in entry.blobs:
                blobs[name] = entry.blobs[name]
                self.parts_reused += 1
            else:
                blobs[name] = self.codec.encode_part(obj if obj is not None else _part(state, name))
                self.parts_written += 1
        value = self.codec.encode_parts(blobs)
        self._entries[key] = _Entry(value, state, blobs)
        return value

    def decode(self, value: bytes) -> PartitionState:
        """A stored value's state (parts, or one object as written before the parts format);
        raises :class:`~glasswatch.errors.StateRefused`."""
        return self.codec.decode(value, PartitionState, migrate=_carry_over, assemble=join_state)

    def clear(self) -> None:
        """Forget every live state (partitions were assigned or revoked: read them back)."""
        self._entries.clear()


def _names(state: PartitionState) -> list[str]:
    return [HEAD, *(_STATS + m for m in state.models), *(_MONITOR + m for m in state.monitors)]


def _part(state: PartitionState, name: str) -> object:
    if name.startswith(_STATS):
        return state.models[name[len(_STATS) :]]
    return state.monitors[name[len(_MONITOR) :]]


def _carry_over(state: PartitionState) -> PartitionState:
    """A state of the release before signed values keeps its statistics, counters, dead-letter
    rate and offset; its model monitors are dropped (their classes changed since)."""
    state.monitors = {}
    return state
