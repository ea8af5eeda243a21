"""The join of delayed labels to their predictions by ``prediction_id``, with a TTL.

A prediction waits in a :class:`~glasswatch.drift.pending.PendingStore` (a compact record:
:func:`~glasswatch.drift.pending.pack`, 50 to 130 bytes with its 16-byte key) until its label
arrives, its TTL passes or never. Labels may come hours later, twice, before their prediction or
never, and each case is counted:

* ``joined`` — a label met its pending prediction within the TTL (:attr:`LabelJoin.last_join`);
* ``late_labels`` — it met it after the TTL (label time − prediction time > ``ttl_s``);
* ``duplicate_labels`` — a second label for an id already labelled (or already waiting): counted
  once, never joined twice (the labelled record stays as a small marker until its TTL);
* ``orphan_labels`` — a label whose prediction never came: it waits (a label may be consumed
  before its prediction) and is counted when its own TTL passes;
* ``expired_predictions`` — a prediction whose label did not come within the TTL.

Time is event time: the watermark is the largest event time seen, and every :meth:`update`
sweeps at most ``sweep_limit`` records older than ``watermark − ttl_s − grace_s`` (bounded work,
no wall clock). Each record keeps the source offsets of the events that wrote it, so an event
re-delivered after a crash (its store write done, the counters not) is recognised by its
``offset`` and has exactly the effect it had (see :mod:`glasswatch.kafka.pending_store`).

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.drift.pending import MemoryPendingStore
>>> from glasswatch.schemas.events import LabelEvent, PredictionEvent
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> join = LabelJoin(MemoryPendingStore(), ttl_s=3600)
>>> p = PredictionEvent(model="churn", model_version="3", prediction_id="p-1", event_time=t0,
...                     prediction=1, probabilities={"0": 0.2, "1": 0.8})
>>> lab = LabelEvent(model="churn", prediction_id="p-1", event_time=t0 + timedelta(minutes=5), label=0)
>>> pair = join.update(p).update(lab).last_join
>>> pair.predicted, pair.actual, pair.score, join.joined, join.pending
('1', '0', 0.8, 1, 0)
>>> join.update(lab).duplicate_labels, join.joined
(1, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

from glasswatch.drift.pending import (
    PendingStore,
    Record,
    RecordKind,
    class_key,
    class_text,
    event_ms,
    labelled_record,
    pack,
    pending_key,
    prediction_record,
    unpack,
)
from glasswatch.schemas.events import LabelEvent, PredictionEvent, Tick

__all__ = ["Joined", "LabelJoin"]


@dataclass(frozen=True, slots=True)
class Joined:
    """A labelled prediction (what :class:`~glasswatch.drift.performance.PerformanceMonitor` reads)."""

    model: str
    model_version: str
    prediction_id: str
    prediction_ms: int
    label_ms: int
    predicted: str
    """The predicted class (``""`` when the prediction is neither a class nor a number)."""
    actual: str
    score: float
    """Probability of the predicted class (NaN when unknown)."""
    value: float
    """Numeric prediction (NaN when not a number)."""
    label_value: float
    """Numeric label (NaN when the label is a class name)."""


class LabelJoin:
    """Labels joined to their predictions in ``store``; see the module docstring.

    ``ttl_s``: how long a prediction waits for its label (event time); ``grace_s``: how much
    longer its record is kept so that a label a little after the TTL is counted late rather than
    orphan; ``sweep_limit``: records expired per update at most. The store is not part of the
    pickled state (:meth:`bind` reattaches one)."""

    def __init__(
        self,
        store: PendingStore,
        *,
        ttl_s: float = 2 * 86400.0,
        grace_s: float = 3600.0,
        sweep_limit: int = 64,
    ) -> None:
        if ttl_s <= 0 or grace_s < 0 or sweep_limit < 1:
            raise ValueError("ttl_s must be > 0, grace_s >= 0 and sweep_limit >= 1")
        self.store = store
        self.ttl_s = ttl_s
        self.grace_s = grace_s
        self.sweep_limit = sweep_limit
        self.watermark_ms: int | None = None
        self.counts: dict[str, int] = dict.fromkeys(
            ("predictions", "labels", "joined", "late_labels", "duplicate_labels", "duplicate_predictions",
             "orphan_labels", "expired_predictions", "pending", "waiting"), 0,
        )  # fmt: skip
        self._last: Joined | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("store", "_last")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._last = None

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl_s * 1000)

    def bind(self, store: PendingStore) -> Self:
        self.store = store
        return self

    # results --------------------------------------------------------------------------------
    @property
    def last_join(self) -> Joined | None:
        """The pair the last :meth:`update` joined, if it joined one."""
        return self._last

    @property
    def joined(self) -> int:
        return self.counts["joined"]

    @property
    def pending(self) -> int:
        """Predictions waiting for their label."""
        return self.counts["pending"]

    @property
    def duplicate_labels(self) -> int:
        return self.counts["duplicate_labels"]

    @property
    def orphan_labels(self) -> int:
        return self.counts["orphan_labels"]

    @property
    def late_labels(self) -> int:
        return self.counts["late_labels"]

    @property
    def expired_predictions(self) -> int:
        return self.counts["expired_predictions"]

    # update ---------------------------------------------------------------------------------
    def update(self, event: PredictionEvent | LabelEvent | Tick, *, offset: int = -1) -> Self:
        """Apply one event (features events are not joined: pass predictions, labels, ticks).

        ``offset`` is the event's source offset (``-1``: unknown): a record the same event
        wrote already (a re-delivery after a crash) is then recognised and not counted twice."""
        self._last = None
        ms = event_ms(event)
        self.watermark_ms = ms if self.watermark_ms is None else max(self.watermark_ms, ms)
        if isinstance(event, PredictionEvent):
            self._prediction(event, offset)
        elif isinstance(event, LabelEvent):
            self._label(event, ms, offset)
        self._sweep()
        return self

    def _count(self, name: str, delta: int = 1) -> None:
        self.counts[name] += delta

    def _prediction(self, e: PredictionEvent, offset: int) -> None:
        key = pending_key(e.model, e.prediction_id)
        raw = self.store.get(key)
        self._count("predictions")
        if raw is None:
            self.store.put(key, pack(prediction_record(e, offset)), event_ms(e))
            self._count("pending")
            return
        old = unpack(raw)
        replay = offset >= 0 and old.pred_offset == offset
        if old.kind == RecordKind.WAITING or (replay and old.by_prediction):
            # the label came first: the prediction completes the join
            rec = prediction_record(e, offset)
            done = labelled_record(rec, old, by_prediction=True, ttl_ms=self._ttl_ms)
            self.store.put(key, raw if replay else pack(done), old.expiry_ms)  # a replay re-indexes it
            self._count("waiting", -1)
            self._settle(e.model, e.prediction_id, done)
        elif replay:  # written by this very event before a crash; the label may have come since
            self.store.put(key, raw, old.expiry_ms)
            self._count("pending")
        else:
            self._count("duplicate_predictions")

    def _label(self, e: LabelEvent, ms: int, offset: int) -> None:
        key = pending_key(e.model, e.prediction_id)
        raw = self.store.get(key)
        self._count("labels")
        label_value = float(e.label) if isinstance(e.label, (int, float)) else math.nan
        waiting = Record(RecordKind.WAITING, label_ms=ms, label_value=label_value, label=class_key(e.label),
                         label_offset=offset)  # fmt: skip
        if raw is None:
            self.store.put(key, pack(waiting), ms)
            self._count("waiting")
            return
        old = unpack(raw)
        replay = offset >= 0 and old.label_offset == offset
        if replay and (old.kind == RecordKind.WAITING or old.by_prediction):
            self.store.put(key, raw, old.expiry_ms)  # re-delivered; the prediction completes it again
            self._count("waiting")
        elif old.kind == RecordKind.PENDING or (replay and old.kind == RecordKind.LABELLED):
            done = labelled_record(old, waiting, by_prediction=False, ttl_ms=self._ttl_ms)
            self.store.put(key, raw if replay else pack(done), old.expiry_ms)
            self._count("pending", -1)
            self._settle(e.model, e.prediction_id, done)
        else:
            self._count("duplicate_labels")

    def _settle(self, model: str, prediction_id: str, r: Record) -> None:
        if r.late:
            self._count("late_labels")
            return
        self._count("joined")
        self._last = Joined(
            model, r.model_version, prediction_id, r.pred_ms, r.label_ms, class_text(r.predicted),
            class_text(r.label), r.score, r.value, r.label_value,
        )  # fmt: skip

    def _sweep(self) -> None:
        assert self.watermark_ms is not None
        cutoff = self.watermark_ms - self._ttl_ms - int(self.grace_s * 1000)
        for _key, raw in self.store.expire(cutoff, self.sweep_limit):
            kind = raw[0]
            if kind == RecordKind.PENDING:
                self._count("expired_predictions")
                self._count("pending", -1)
            elif kind == RecordKind.WAITING:
                self._count("orphan_labels")
                self._count("waiting", -1)
