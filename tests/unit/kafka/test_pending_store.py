"""The table-backed pending store over a dict standing in for the Faust table (the real table is
exercised by tests/integration/test_labels_worker.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from glasswatch.drift.labels import LabelJoin
from glasswatch.drift.pending import Record, RecordKind, pack
from glasswatch.kafka.pending_store import IndexState, TablePendingStore, meta_key
from glasswatch.schemas.events import PredictionEvent, Tick

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rec(ms: int) -> bytes:
    return pack(Record(RecordKind.PENDING, ms, model_version="1"))


def key(i: int) -> bytes:
    return i.to_bytes(16, "big")


def test_put_get_delete_and_expire_through_the_index() -> None:
    table: dict[bytes, bytes] = {}
    store = TablePendingStore(table, 3, IndexState(bucket_ms=1000))
    for i in range(10):
        store.put(key(i), rec(i * 500), i * 500)  # buckets 0..4
    assert store.flush() == 5
    assert store.get(key(4)) == rec(2000)
    store.delete(key(4))
    store.delete(key(4))  # absent: no error
    assert store.get(key(4)) is None
    # cutoff 2500: buckets 0 and 1 (records 0..1999 ms) are wholly older; bucket 2 is not
    out = store.expire(2500, limit=100)
    assert sorted(k for k, _ in out) == [key(i) for i in range(4)]
    assert store.get(key(5)) is not None and store.index.chunks.keys() == {2, 3, 4}
    assert all(not k.startswith(b"i") or k[3:11] >= (2).to_bytes(8, "big") for k in table)  # chunks deleted


def test_expire_is_bounded_and_resumes_where_it_stopped() -> None:
    table: dict[bytes, bytes] = {}
    store = TablePendingStore(table, 0, IndexState(bucket_ms=1000))
    for i in range(25):
        store.put(key(i), rec(10), 10)
    store.flush()
    got = [len(store.expire(5000, limit=10)) for _ in range(4)]
    assert got == [10, 10, 5, 0]
    assert not table and not store.index.chunks


def test_a_record_put_again_with_a_newer_expiry_is_not_expired_by_an_old_chunk() -> None:
    table: dict[bytes, bytes] = {}
    store = TablePendingStore(table, 0, IndexState(bucket_ms=1000))
    store.put(key(1), rec(10), 10)
    store.flush()
    store.delete(key(1))  # swept elsewhere, then a label re-creates the key much later
    store.put(key(1), rec(9000), 9000)
    store.flush()
    assert store.expire(5000, limit=10) == []
    assert store.get(key(1)) == rec(9000)


def test_a_chunk_written_again_after_a_crash_keeps_what_it_held() -> None:
    table: dict[bytes, bytes] = {}
    saved = IndexState(bucket_ms=1000)
    before = TablePendingStore(table, 0, IndexState.from_dict(saved.to_dict()))
    before.put(key(1), rec(10), 10)
    before.put(key(2), rec(20), 20)
    before.flush()  # ... then SIGKILL before the state (with the index) was written
    after = TablePendingStore(table, 0, IndexState.from_dict(saved.to_dict()))
    after.put(key(3), rec(30), 30)
    after.flush()
    assert sorted(k for k, _ in after.expire(10_000, limit=10)) == [key(1), key(2), key(3)]


def test_a_join_over_the_table_store_frees_every_key_after_the_ttl() -> None:
    table: dict[bytes, bytes] = {}
    store = TablePendingStore(table, 1, IndexState(bucket_ms=60_000))
    join = LabelJoin(store, ttl_s=3600, grace_s=0, sweep_limit=500)
    for i in range(1000):
        join.update(PredictionEvent(model="m", model_version="1", prediction_id=f"p{i}",
                                    event_time=T0 + timedelta(seconds=i), prediction=1))  # fmt: skip
    store.flush()
    assert join.pending == 1000 and len(table) > 1000
    for k in range(3):
        join.update(Tick(event_time=T0 + timedelta(hours=3, seconds=k)))
    assert join.expired_predictions == 1000 and join.pending == 0
    assert table == {} and meta_key(1) == b"m\x00\x01"
