"""What the label join stores: one packed record per prediction id, and the store seam.

A :class:`Record` is a prediction waiting for its label (:attr:`RecordKind.PENDING`), a label
that came before its prediction (``WAITING``) or a joined pair kept as a marker until its TTL
(``LABELLED``). :func:`pack` writes it in 50 to 130 bytes (a fixed head of kinds, flags, event
times, source offsets and numbers, then the model version and the predicted and actual classes
as :func:`class_key` bytes); its store key is the 16-byte :func:`pending_key`.
:func:`prediction_record` and :func:`labelled_record` build the records
:class:`~glasswatch.drift.labels.LabelJoin` writes.

:class:`PendingStore` is the seam to where records live (keyed bytes that expire by event time):
:class:`MemoryPendingStore` for tests and benchmarks, and the changelog-backed table of
:mod:`glasswatch.kafka.pending_store` in the worker.

Examples
--------
>>> r = Record(RecordKind.PENDING, pred_ms=1_000, model_version="3", predicted=class_key(1.0),
...            score=0.8, pred_offset=42)
>>> raw = pack(r)
>>> back = unpack(raw)
>>> back.predicted, back.score, back.pred_offset, len(raw), record_expiry(raw)
(b'1', 0.8, 42, 63, 1000)
"""

from __future__ import annotations

import hashlib
import heapq
import math
import struct
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from glasswatch.schemas.events import EPOCH, LabelEvent, PredictionEvent, Tick

__all__ = [
    "MAX_CLASS_BYTES",
    "MemoryPendingStore",
    "PendingStore",
    "Record",
    "RecordKind",
    "class_key",
    "class_text",
    "event_ms",
    "labelled_record",
    "pack",
    "pending_key",
    "prediction_record",
    "record_expiry",
    "unpack",
]

MAX_CLASS_BYTES = 32
"""Longer class names are kept as a 17-byte digest (``0xff`` + 16 bytes; never valid UTF-8)."""
_MAX_VERSION_BYTES = 64  # the event contract's bound on model_version


class RecordKind:
    """The three kinds of stored record (first byte of :func:`pack`)."""

    PENDING = 1
    """A prediction waiting for its label."""
    LABELLED = 2
    """A prediction already joined (or refused as late): a second label is a duplicate."""
    WAITING = 3
    """A label that came before its prediction."""


_BY_PREDICTION = 1  # flag: the prediction completed the join (the label was waiting)
_LATE = 2  # flag: the label came after the TTL
_HEAD = struct.Struct("<BBqqqqddd")  # kind, flags, times (ms), offsets, value, score, label value


@dataclass(frozen=True, slots=True)
class Record:
    """A stored record: a pending prediction, a waiting label or a labelled pair."""

    kind: int
    pred_ms: int = -1
    label_ms: int = -1
    model_version: str = ""
    value: float = math.nan
    """Numeric prediction (regression), NaN if none."""
    score: float = math.nan
    """Probability of the predicted class, NaN if the event had no probabilities."""
    predicted: bytes = b""
    """:func:`class_key` of the predicted class (or of a numeric prediction)."""
    label_value: float = math.nan
    label: bytes = b""
    pred_offset: int = -1
    label_offset: int = -1
    flags: int = 0

    @property
    def by_prediction(self) -> bool:
        """The prediction completed the join (its label was waiting)."""
        return bool(self.flags & _BY_PREDICTION)

    @property
    def late(self) -> bool:
        """The label came more than the TTL after its prediction."""
        return bool(self.flags & _LATE)

    @property
    def expiry_ms(self) -> int:
        """The event time the record's TTL counts from: that of its first writer (never changes)."""
        first_is_label = self.kind == RecordKind.WAITING or self.by_prediction
        return self.label_ms if first_is_label else self.pred_ms


def class_key(value: object) -> bytes:
    """A class as bytes: integral numbers as integers (``1.0`` → ``b"1"``), long names digested.

    >>> class_key(1.0), class_key("yes"), len(class_key("x" * 40))
    (b'1', b'yes', 17)
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = str(value).encode()
    return raw if len(raw) <= MAX_CLASS_BYTES else b"\xff" + hashlib.blake2b(raw, digest_size=16).digest()


def class_text(key: bytes) -> str:
    """A :func:`class_key` as text (a digested one as ``#`` + hex)."""
    return key.decode() if not key.startswith(b"\xff") else "#" + key[1:].hex()


def pending_key(model: str, prediction_id: str) -> bytes:
    """The store key of a prediction: 16 bytes, whatever the length of its names."""
    return hashlib.blake2b(f"{model}\x1f{prediction_id}".encode(), digest_size=16).digest()


def pack(r: Record) -> bytes:
    """The stored bytes of a record (:func:`unpack` inverts it)."""
    version = r.model_version.encode()[:_MAX_VERSION_BYTES]
    head = _HEAD.pack(r.kind, r.flags, r.pred_ms, r.label_ms, r.pred_offset, r.label_offset, r.value, r.score,
                      r.label_value)  # fmt: skip
    return b"".join(
        (head, bytes((len(version), len(r.predicted), len(r.label))), version, r.predicted, r.label)
    )


def unpack(raw: bytes) -> Record:
    kind, flags, pred_ms, label_ms, p_off, l_off, value, score, label_value = _HEAD.unpack_from(raw)
    nv, np_, nl = raw[_HEAD.size : _HEAD.size + 3]
    at = _HEAD.size + 3
    version, predicted, label = (
        raw[at : at + nv],
        raw[at + nv : at + nv + np_],
        raw[at + nv + np_ : at + nv + np_ + nl],
    )
    return Record(kind, pred_ms, label_ms, version.decode(), value, score, bytes(predicted), label_value,
                  bytes(label), p_off, l_off, flags)  # fmt: skip


def record_expiry(raw: bytes) -> int:
    """The expiry time of a packed record (without unpacking the rest of it)."""
    return unpack(raw).expiry_ms


def event_ms(event: PredictionEvent | LabelEvent | Tick) -> int:
    """An event's time in milliseconds since the epoch (the join's clock)."""
    return (event.event_time - EPOCH) // timedelta(milliseconds=1)


def prediction_record(e: PredictionEvent, offset: int) -> Record:
    """The pending record of a prediction event read at source ``offset``."""
    value, predicted, score = math.nan, b"", math.nan
    probs = e.probabilities or {}
    if isinstance(e.prediction, (int, float)):
        value = float(e.prediction)
    if e.prediction is not None:
        predicted = class_key(e.prediction)
    elif probs:
        predicted = class_key(max(sorted(probs), key=lambda c: probs[c]))
    if probs:
        text = class_text(predicted)
        score = float(probs[text]) if text in probs else float(max(probs.values()))
    return Record(
        RecordKind.PENDING, event_ms(e), -1, e.model_version, value, score, predicted, pred_offset=offset
    )


def labelled_record(pred: Record, label: Record, *, by_prediction: bool, ttl_ms: int) -> Record:
    """The record of a joined pair; late when the label came more than the TTL after."""
    flags = (_BY_PREDICTION if by_prediction else 0) | (
        _LATE if label.label_ms - pred.pred_ms > ttl_ms else 0
    )
    return Record(
        RecordKind.LABELLED, pred.pred_ms, label.label_ms, pred.model_version, pred.value, pred.score,
        pred.predicted, label.label_value, label.label, pred.pred_offset, label.label_offset, flags,
    )  # fmt: skip


class PendingStore(Protocol):
    """Keyed bytes with expiry by event time. ``put`` over an existing key keeps its expiry time."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes, expiry_ms: int) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def expire(self, cutoff_ms: int, limit: int) -> list[tuple[bytes, bytes]]:
        """Remove and return up to ``limit`` records whose expiry time is before ``cutoff_ms``."""
        ...


class MemoryPendingStore:
    """A dict plus a heap by expiry time: the store of unit tests and benchmarks.

    >>> s = MemoryPendingStore()
    >>> s.put(b"k", b"v", 10); s.put(b"j", b"w", 20)
    >>> s.expire(15, limit=10), s.get(b"j")
    ([(b'k', b'v')], b'w')
    """

    def __init__(self) -> None:
        self._data: dict[bytes, tuple[int, bytes]] = {}
        self._heap: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: bytes) -> bytes | None:
        item = self._data.get(key)
        return item[1] if item else None

    def put(self, key: bytes, value: bytes, expiry_ms: int) -> None:
        old = self._data.get(key)
        if old is None:
            heapq.heappush(self._heap, (expiry_ms, key))
        self._data[key] = (old[0] if old else expiry_ms, value)

    def delete(self, key: bytes) -> None:
        self._data.pop(key, None)

    def expire(self, cutoff_ms: int, limit: int) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        while self._heap and self._heap[0][0] < cutoff_ms and len(out) < limit:
            expiry, key = heapq.heappop(self._heap)
            item = self._data.get(key)
            if item is not None and item[0] == expiry:
                del self._data[key]
                out.append((key, item[1]))
        return out

    def stored_bytes(self) -> int:
        """Bytes of keys and values held (what a pending prediction costs, without overheads)."""
        return sum(len(k) + len(v) for k, (_, v) in self._data.items())
