"""The label join: joined, orphan, late, duplicate, TTL expiry, record size, crash replay."""

from __future__ import annotations

import math
import pickle
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from glasswatch.drift.labels import Joined, LabelJoin
from glasswatch.drift.pending import (
    MemoryPendingStore,
    Record,
    RecordKind,
    class_key,
    pack,
    pending_key,
    unpack,
)
from glasswatch.schemas.events import LabelEvent, PredictionEvent, Tick

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pred(
    pid: str, at: float = 0.0, *, model: str = "churn", version: str = "3", p1: float = 0.8
) -> PredictionEvent:
    return PredictionEvent(
        model=model, model_version=version, prediction_id=pid, event_time=T0 + timedelta(seconds=at),
        prediction=int(p1 >= 0.5), probabilities={"0": 1 - p1, "1": p1},
    )  # fmt: skip


def label(pid: str, at: float, value: int | str = 1, *, model: str = "churn") -> LabelEvent:
    return LabelEvent(model=model, prediction_id=pid, event_time=T0 + timedelta(seconds=at), label=value)


def tick(at: float) -> Tick:
    return Tick(event_time=T0 + timedelta(seconds=at))


def test_a_label_joins_its_prediction_once() -> None:
    join = LabelJoin(MemoryPendingStore(), ttl_s=3600, grace_s=0)
    join.update(pred("a", 0, p1=0.3))
    assert join.pending == 1 and join.last_join is None
    pair = join.update(label("a", 60, 0)).last_join
    assert pair == Joined("churn", "3", "a", 0 + _ms(T0), 60_000 + _ms(T0), "0", "0", 0.7, 0.0, 0.0)
    assert (join.joined, join.pending, join.duplicate_labels) == (1, 0, 0)
    assert join.update(label("a", 61, 1)).last_join is None  # a second label: counted, not joined
    assert (join.joined, join.duplicate_labels) == (1, 1)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_a_label_before_its_prediction_waits_and_joins_when_it_comes() -> None:
    join = LabelJoin(MemoryPendingStore(), ttl_s=3600)
    join.update(label("b", 10, 1))
    assert join.counts["waiting"] == 1 and join.joined == 0
    pair = join.update(pred("b", 5)).last_join
    assert pair is not None and (pair.actual, pair.predicted) == ("1", "1")
    assert join.counts["waiting"] == 0 and join.pending == 0 and join.joined == 1
    join.update(label("b", 11, 1))
    assert join.duplicate_labels == 1 and join.joined == 1


def test_orphan_labels_are_counted_when_their_ttl_passes() -> None:
    join = LabelJoin(MemoryPendingStore(), ttl_s=100, grace_s=0)
    join.update(label("nobody", 0))
    join.update(tick(99))
    assert join.orphan_labels == 0
    join.update(tick(101))
    assert join.orphan_labels == 1 and join.counts["waiting"] == 0


def test_predictions_without_label_expire_after_the_ttl_and_free_the_store() -> None:
    store = MemoryPendingStore()
    join = LabelJoin(store, ttl_s=100, grace_s=10, sweep_limit=1000)
    for i in range(50):
        join.update(pred(f"p{i}", i))
    assert join.pending == 50 and len(store) == 50
    join.update(tick(49 + 110 + 0.5))  # every prediction older than ttl + grace
    assert join.expired_predictions == 50 and join.pending == 0 and len(store) == 0


def test_the_sweep_is_bounded_per_update() -> None:
    join = LabelJoin(MemoryPendingStore(), ttl_s=10, grace_s=0, sweep_limit=4)
    for i in range(20):
        join.update(pred(f"p{i}", 0))
    join.update(tick(1000))
    assert join.expired_predictions == 4
    for k in range(4):
        join.update(tick(1001 + k))
    assert join.expired_predictions == 20


def test_a_label_after_the_ttl_is_late_not_joined() -> None:
    join = LabelJoin(MemoryPendingStore(), ttl_s=100, grace_s=1000)
    join.update(pred("c", 0))
    assert join.update(label("c", 150)).last_join is None
    assert (join.late_labels, join.joined, join.pending) == (1, 0, 0)
    join.update(label("c", 151))
    assert join.duplicate_labels == 1


def test_a_label_after_the_record_was_swept_ends_as_orphan() -> None:
    join = LabelJoin(MemoryPendingStore(), ttl_s=100, grace_s=0)
    join.update(pred("d", 0)).update(tick(200))
    assert join.expired_predictions == 1
    join.update(label("d", 201)).update(tick(400))
    assert (join.joined, join.orphan_labels) == (0, 1)


def test_duplicate_predictions_are_counted_and_the_first_kept() -> None:
    join = LabelJoin(MemoryPendingStore())
    join.update(pred("e", 0, p1=0.9)).update(pred("e", 1, p1=0.1))
    assert join.counts["duplicate_predictions"] == 1 and join.pending == 1
    pair = join.update(label("e", 2, 1)).last_join
    assert pair is not None and pair.predicted == "1" and pair.score == pytest.approx(0.9)


def test_records_round_trip_and_stay_small() -> None:
    r = Record(
        RecordKind.PENDING, 123, -1, "v" * 64, 1.5, 0.25, class_key("c" * 200), math.nan, b"", 7, -1, 0
    )
    back = unpack(pack(r))
    assert back.predicted == r.predicted and back.model_version == r.model_version and back.pred_offset == 7
    assert len(pending_key("m" * 128, "p" * 128)) + len(pack(r)) <= 200  # the largest a contract allows


def test_bytes_per_pending_prediction_with_uuid_ids_is_at_most_200() -> None:
    store = MemoryPendingStore()
    join = LabelJoin(store)
    n = 10_000
    for i in range(n):
        join.update(pred(str(uuid.UUID(int=i)), i / 100, version="2026.01.15-a1b2c3d"))
    per = store.stored_bytes() / n
    assert join.pending == n and per <= 200, per
    assert per >= 60  # not vacuous: key, times, offsets and the prediction are in it


def test_class_keys_of_numbers_and_names() -> None:
    assert class_key(1) == class_key(1.0) == class_key("1") == b"1"
    assert class_key(0.5) == b"0.5"
    long = class_key("x" * 33)
    assert long[0] == 0xFF and len(long) == 17 and long != class_key("x" * 34)


def _stream(n: int) -> list[tuple[PredictionEvent | LabelEvent | Tick, int]]:
    """Predictions, their labels later (some twice, some never, one before its prediction), each
    with its offset in its own topic."""
    events: list[PredictionEvent | LabelEvent | Tick] = []
    for i in range(n):
        events.append(pred(f"q{i}", i, p1=(i % 10) / 10))
        j = i - 5
        if j >= 0 and j % 7:  # every 7th is never labelled
            events.append(label(f"q{j}", i + 0.5, j % 2))
            if j % 11 == 0:
                events.append(label(f"q{j}", i + 0.6, 0))  # a duplicate
    events += [label("q-future", n, 1), pred("q-future", n + 1)]
    offsets = {"prediction": 0, "label": 0}
    out = []
    for e in events:
        kind = "prediction" if isinstance(e, PredictionEvent) else "label"
        out.append((e, offsets[kind]))
        offsets[kind] += 1
    return out


def _run(join: LabelJoin, events: list[tuple[PredictionEvent | LabelEvent | Tick, int]]) -> list[Joined]:
    pairs = []
    for e, off in events:
        join.update(e, offset=off)
        if join.last_join is not None:
            pairs.append(join.last_join)
    return pairs


@pytest.mark.parametrize("crash_at", [37, 120, 301, -2])
def test_replay_after_a_crash_has_the_effect_of_one_uninterrupted_run(crash_at: int) -> None:
    """The state (counters) is saved at ``crash_at``; the store runs on up to a later point (its
    writes survived the crash, the state did not); the restored state replays from ``crash_at``."""
    events = _stream(200)
    crash_at %= len(events)  # -2: the label that came before its prediction is in flight
    clean = LabelJoin(MemoryPendingStore(), ttl_s=10_000)
    expected = _run(clean, events)

    store = MemoryPendingStore()
    first = LabelJoin(store, ttl_s=10_000)
    pairs = _run(first, events[:crash_at])
    saved = pickle.dumps(first)
    _run(first, events[crash_at : crash_at + 25])  # applied to the store, then SIGKILL
    restored: LabelJoin = pickle.loads(saved)
    pairs += _run(restored.bind(store), events[crash_at:])
    assert pairs == expected
    assert restored.counts == clean.counts
    assert clean.joined > 100 and clean.duplicate_labels > 0 and clean.counts["waiting"] == 0


def test_update_returns_self_and_validates_its_arguments() -> None:
    join = LabelJoin(MemoryPendingStore())
    assert join.update(tick(0)) is join
    with pytest.raises(ValueError, match="ttl_s"):
        LabelJoin(MemoryPendingStore(), ttl_s=0)
