"""The label join's :class:`~glasswatch.drift.pending.PendingStore` in a changelog-backed Faust table.

One table, ``label-join`` (compacted changelog), holds three kinds of key, all raw bytes:

* ``p`` + 16-byte :func:`~glasswatch.drift.pending.pending_key` → a packed record (≤ ~130 bytes);
* ``i`` + partition + time bucket + sequence → an *expiry index chunk*: the 16-byte keys put in
  that event-time bucket by one batch (buckets are ``ttl / 64`` wide). The sweep reads the chunks
  of buckets wholly older than the cutoff, deletes their records and then the chunk: no scan of
  the key space, at most ``limit`` records per call;
* ``m`` + partition → the partition's state (offsets, join counters, performance monitors and this
  store's :class:`IndexState`), written by :mod:`glasswatch.agents.labels` after the records.

Co-partitioning: predictions and labels are keyed by model name, so a model's predictions and
labels are in the same partition number of their topics, and the table (as many partitions) is
written in the event context of that partition (:mod:`glasswatch.kafka.context`): a record lands
in the changelog partition of its source partition and is read from that partition's local store.
With ``rocksdb://`` the values live in RocksDB (one database per partition), not in a Python
dict: memory stays bounded whatever the number of pending predictions.

Crash consistency: writes of one partition go to one changelog partition in order and the state
key is written last, so after a SIGKILL the stored records are at least as recent as the state;
records carry the offsets of the events that wrote them, so the join recognises what a replayed
event already wrote (:class:`~glasswatch.drift.labels.LabelJoin`). Every ``put`` is indexed (also a
rewrite), so a record written before a crash whose chunk was not is indexed again on replay; a
chunk rewritten after a crash is merged with what it held.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glasswatch.drift.pending import record_expiry

__all__ = ["BUCKETS_PER_TTL", "IndexState", "TablePendingStore", "meta_key", "pending_table"]

BUCKETS_PER_TTL = 64
_KEY = 16
_CHUNK = struct.Struct(">cHqI")  # b"i", partition, bucket, sequence
_META = struct.Struct(">cH")


def meta_key(partition: int) -> bytes:
    """The table key of one partition's state."""
    return _META.pack(b"m", partition)


@dataclass
class IndexState:
    """Which expiry chunks exist, and how far the sweep got (kept with the partition's state)."""

    bucket_ms: int
    chunks: dict[int, int] = field(default_factory=dict)
    """Time bucket → number of chunks written into it."""
    cursor: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Time bucket → (chunk, position) the sweep reached."""

    def to_dict(self) -> dict[str, Any]:
        """Builtins only (the state codec's allowlist has no ``glasswatch.kafka`` class)."""
        return {"bucket_ms": self.bucket_ms, "chunks": dict(self.chunks), "cursor": dict(self.cursor)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IndexState:
        return cls(int(d["bucket_ms"]), dict(d["chunks"]), dict(d["cursor"]))


def pending_table(app: Any, partitions: int) -> Any:
    """Declare the ``label-join`` table on ``app`` (before the worker starts)."""
    return app.Table(
        "label-join",
        default=None,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        extra_topic_configs={"cleanup.policy": "compact"},
        help="Predictions waiting for their label, expiry index chunks and per-partition state.",
    )


class TablePendingStore:
    """A :class:`~glasswatch.drift.pending.PendingStore` over partition ``partition`` of ``table``.

    Call it within the event context of a message of that partition; :meth:`flush` writes the
    batch's index chunks (before the partition state)."""

    def __init__(
        self,
        table: Any,
        partition: int,
        index: IndexState,
        *,
        expiry_of: Callable[[bytes], int] = record_expiry,
    ) -> None:
        self.table = table
        self.partition = partition
        self.index = index
        self.expiry_of = expiry_of
        self._new: dict[int, dict[bytes, None]] = {}

    def get(self, key: bytes) -> bytes | None:
        value = self.table.get(b"p" + key)
        return bytes(value) if value is not None else None

    def put(self, key: bytes, value: bytes, expiry_ms: int) -> None:
        self.table[b"p" + key] = value
        self._new.setdefault(expiry_ms // self.index.bucket_ms, {})[key] = None

    def delete(self, key: bytes) -> None:
        full = b"p" + key
        if self.table.get(full) is not None:
            del self.table[full]

    def flush(self) -> int:
        """Write the index chunks of what was put since the last flush; returns how many."""
        for bucket, keys in sorted(self._new.items()):
            seq = self.index.chunks.get(bucket, 0)
            ckey = _CHUNK.pack(b"i", self.partition, bucket, seq)
            old = self.table.get(ckey)
            if old:  # the same chunk written before a crash: keep what it held
                keys = dict.fromkeys([bytes(old[i : i + _KEY]) for i in range(0, len(old), _KEY)]) | keys
            self.table[ckey] = b"".join(keys)
            self.index.chunks[bucket] = seq + 1
        written = len(self._new)
        self._new = {}
        return written

    def expire(self, cutoff_ms: int, limit: int) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        width = self.index.bucket_ms
        while len(out) < limit:
            due = [b for b in self.index.chunks if (b + 1) * width <= cutoff_ms]
            if not due:
                break
            bucket = min(due)
            seq, pos = self.index.cursor.get(bucket, (0, 0))
            if seq >= self.index.chunks[bucket]:
                del self.index.chunks[bucket]
                self.index.cursor.pop(bucket, None)
                continue
            ckey = _CHUNK.pack(b"i", self.partition, bucket, seq)
            chunk = bytes(self.table.get(ckey) or b"")
            while pos * _KEY < len(chunk) and len(out) < limit:
                key = chunk[pos * _KEY : (pos + 1) * _KEY]
                pos += 1
                value = self.get(key)
                if value is not None and self.expiry_of(value) < cutoff_ms:  # not re-put since
                    del self.table[b"p" + key]
                    out.append((key, value))
            if pos * _KEY >= len(chunk):
                if chunk:
                    del self.table[ckey]
                seq, pos = seq + 1, 0
            self.index.cursor[bucket] = (seq, pos)
        return out
