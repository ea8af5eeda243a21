"""The reference cache (bounded, by sha256) and the in-memory store fake."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from glasswatch.drift.job import DriftResult
from glasswatch.drift.reference import InMemoryReferenceStore, Reference, ReferenceCache, file_digest
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow


def _file(tmp: Path, name: str, size: int) -> Path:
    p = tmp / name
    p.write_bytes(os.urandom(size))
    return p


def test_cache_is_bounded_lru_by_bytes_and_verifies_digests(tmp_path: Path) -> None:
    cache = ReferenceCache(tmp_path / "c", max_bytes=2500)
    a, b, c = (_file(tmp_path, f"{n}.csv", 1000) for n in "abc")
    ha, hb, hc = (file_digest(p) for p in (a, b, c))
    assert cache.put(a, ha).name == f"{ha}.csv"
    cache.put(b)
    os.utime(cache.directory / f"{ha}.csv", ns=(1, 1))  # a: long unused ...
    os.utime(cache.directory / f"{hb}.csv", ns=(2, 2))
    assert cache.get(ha) is not None  # ... until now: b is the least recently used
    cache.put(c)
    assert cache.get(hb) is None and cache.get(ha) is not None and cache.get(hc) is not None
    assert cache.total_bytes <= 2500
    with pytest.raises(ValueError, match="is not the registered"):
        cache.put(a, "0" * 64)
    big = ReferenceCache(tmp_path / "small", max_bytes=10)
    assert big.put(a).exists()  # the file just added stays even when alone it is too big


def test_in_memory_store_logs_once_per_window_and_reads_back() -> None:
    ref = Reference(model="m", version="1", data=pd.DataFrame({"x": [1.0]}), uri="mem://r", sha256="f" * 64,
                    features=("x",), target=None)
    store = InMemoryReferenceStore({("m", "1"): ref})
    assert store.resolve("m", "1") is ref and store.resolve("m", "2") is None
    t = datetime(2026, 1, 1, tzinfo=UTC)
    w = DriftWindow(model="m", model_version="1", start=t, end=t, offsets=())
    result = DriftResult(drift_share=0.5)
    first = store.log_drift_run(w, ref, pd.DataFrame(), result, DriftSpec())
    assert store.log_drift_run(w, ref, pd.DataFrame(), result, DriftSpec()).run_id == first.run_id
    back = store.read_drift_run(first.run_id)
    assert back.window == w and back.reference_sha256 == ref.sha256 and back.result == result.comparable()
