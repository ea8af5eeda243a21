"""Label join and concept drift: throughput, bytes per pending prediction, detection delay.

Prints one JSON document:

* ``join``: labels joined per second by :class:`~glasswatch.drift.labels.LabelJoin` (typed events
  in, decoding not included) over the in-memory store and over the worker's store
  (:class:`~glasswatch.kafka.pending_store.TablePendingStore`) on a RocksDB database (``rocksdict``,
  as Faust's ``rocksdb://`` store keeps the ``label-join`` table; the changelog producer is not
  included), target ≥ 20,000 labels/s; and the stored bytes per pending prediction (key, record
  and, for the worker's store, its expiry index entry), target ≤ 200.
* ``detection``: labelled events from a concept change (labels follow another function of the
  same inputs; inputs unchanged) to the first ``concept_drift`` alert of
  :class:`~glasswatch.drift.performance.PerformanceMonitor` ("ours") and to the first detection
  of River's ``ADWIN()`` with its defaults run directly on the per-event 0/1 error stream of the
  same data ("adwin"); false alarms before the change for both. Two changes: ``flip`` (the
  boundary turns 90°: error 5 % → 50 %) and ``tilt`` (it turns 30°: error 5 % → ~20 %). Add the
  label delay (time) to get the delay from the change itself.

Each figure is measured in ``ROUNDS`` interleaved rounds (ours and ADWIN alternate, seeds vary
per round); the JSON gives the median and min–max. Run: ``.venv/bin/python bench/labels.py``.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from river import drift
from rocksdict import Rdict

from glasswatch.drift.labels import Joined, LabelJoin
from glasswatch.drift.pending import MemoryPendingStore
from glasswatch.drift.performance import PerformanceConfig, PerformanceMonitor
from glasswatch.kafka.pending_store import IndexState, TablePendingStore
from glasswatch.schemas.alert import AlertKind, AlertStatus
from glasswatch.schemas.events import LabelEvent, PredictionEvent

ROUNDS = 5
N_JOIN = 100_000
N_STREAM, CHANGE_AT = 12_000, 6_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ANGLES = {"flip": math.pi / 2, "tilt": math.pi / 6}


class RdictTable:
    """The subset of a Faust table the store uses, over one RocksDB database."""

    def __init__(self, path: str) -> None:
        self.db = Rdict(path)

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self.db.get(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.db[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.db[key]


def join_events(n: int) -> tuple[list[PredictionEvent], list[LabelEvent]]:
    rng = np.random.default_rng(0)
    preds, labels = [], []
    for i in range(n):
        p1 = float(rng.random())
        pid = f"{i:08x}-{rng.integers(1 << 62):016x}-4a1b-9c2d"  # a uuid-sized id
        t = T0 + timedelta(milliseconds=10 * i)
        probs = {"0": 1 - p1, "1": p1}
        preds.append(PredictionEvent(model="churn", model_version="2026.01.15", prediction_id=pid,
                                     event_time=t, prediction=int(p1 >= 0.5),
                                     probabilities=probs))  # fmt: skip
        labels.append(LabelEvent(model="churn", prediction_id=pid, event_time=t + timedelta(hours=1),
                                 label=int(rng.random() < p1)))  # fmt: skip
    return preds, labels


def bench_join(preds: list[PredictionEvent], labels: list[LabelEvent], kind: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        table = RdictTable(f"{tmp}/db") if kind == "rocksdb" else None
        store: Any = (
            TablePendingStore(table, 0, IndexState(bucket_ms=2 * 86400_000 // 64))
            if table
            else MemoryPendingStore()
        )
        join = LabelJoin(store)
        for off, p in enumerate(preds):
            join.update(p, offset=off)
        if table is not None:
            store.flush()
        stored = _stored_bytes(table.db) if table is not None else store.stored_bytes()
        per_pending = stored / join.pending
        started = time.perf_counter()
        for off, lab in enumerate(labels):
            join.update(lab, offset=off)
        elapsed = time.perf_counter() - started
        assert join.joined == len(labels)
        if table is not None:
            table.db.close()
    return {"labels_per_s": len(labels) / elapsed, "bytes_per_pending": per_pending}


def _stored_bytes(db: Rdict) -> int:
    return sum(len(k) + len(v) for k, v in db.items())


def concept_stream(seed: int, angle: float) -> list[Joined]:
    """sign(x0 + x1) predicted with a calibrated probability; labels follow it (5 % noise) until
    CHANGE_AT, then the boundary turned by ``angle``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_STREAM, 2))
    noise = rng.random(N_STREAM) < 0.05
    out = []
    c, s = math.cos(angle), math.sin(angle)
    for i, (x0, x1) in enumerate(x):
        p1 = 1 / (1 + math.exp(-4 * (x0 + x1)))
        pred = int(p1 >= 0.5)
        truth = (x0 + x1 > 0) if i < CHANGE_AT else ((c * x0 - s * x1) + (s * x0 + c * x1) > 0)
        actual = int(truth) ^ int(noise[i])
        out.append(Joined("churn", "1", str(i), i, i, str(pred), str(actual), p1 if pred else 1 - p1,
                          float(pred), float(actual)))  # fmt: skip
    return out


def ours(pairs: list[Joined]) -> tuple[int | None, int]:
    mon = PerformanceMonitor("churn", "1", config=PerformanceConfig(window=1000))
    false_alarms = 0
    for i, pair in enumerate(pairs):
        for a in mon.update(pair).take_alerts():
            if a.kind is AlertKind.CONCEPT_DRIFT and a.status is AlertStatus.FIRING:
                if i < CHANGE_AT:
                    false_alarms += 1
                else:
                    return i - CHANGE_AT, false_alarms
    return None, false_alarms


def adwin(pairs: list[Joined]) -> tuple[int | None, int]:
    det = drift.ADWIN()
    false_alarms = 0
    for i, pair in enumerate(pairs):
        det.update(float(pair.predicted != pair.actual))
        if det.drift_detected:
            if i < CHANGE_AT:
                false_alarms += 1
            else:
                return i - CHANGE_AT, false_alarms
    return None, false_alarms


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    preds, labels = join_events(N_JOIN)
    join: dict[str, dict[str, list[float]]] = {
        k: {"labels_per_s": [], "bytes_per_pending": []} for k in ("memory", "rocksdb")
    }
    delays: dict[str, dict[str, list[float]]] = {s: {"ours": [], "adwin": []} for s in ANGLES}
    missed = {s: {"ours": 0, "adwin": 0} for s in ANGLES}
    false_alarms = {s: {"ours": 0, "adwin": 0} for s in ANGLES}
    paired: dict[str, list[dict[str, int | None]]] = {s: [] for s in ANGLES}
    for rnd in range(ROUNDS):
        for kind in ("memory", "rocksdb") if rnd % 2 == 0 else ("rocksdb", "memory"):
            for k, v in bench_join(preds, labels, kind).items():
                join[kind][k].append(v)
        for scenario, angle in ANGLES.items():
            pairs = concept_stream(100 + rnd, angle)
            got: dict[str, int | None] = {}
            for name, fn in (
                (("ours", ours), ("adwin", adwin)) if rnd % 2 == 0 else (("adwin", adwin), ("ours", ours))
            ):
                delay, fa = fn(pairs)
                got[name] = delay
                false_alarms[scenario][name] += fa
                if delay is None:
                    missed[scenario][name] += 1
                else:
                    delays[scenario][name].append(delay)
            paired[scenario].append(got)
    out = {
        "rounds": ROUNDS,
        "join": {
            kind: {k: summary(v) for k, v in figures.items()} | {"labels": N_JOIN}
            for kind, figures in join.items()
        },
        "join_targets": {"labels_per_s": 20_000, "bytes_per_pending": 200},
        "detection": {
            scenario: {
                "change_at_labelled": CHANGE_AT,
                "delay_labelled": {name: summary(d) for name, d in per.items()},
                "missed": missed[scenario],
                "false_alarms_before_change": false_alarms[scenario],
                "ours_no_slower_every_round": all(
                    r["adwin"] is None or (r["ours"] is not None and r["ours"] <= r["adwin"])
                    for r in paired[scenario]
                ),
            }
            for scenario, per in delays.items()
        },
        "ours": "PerformanceMonitor: ADWIN(delta=0.002, clock=1) on the 0/1 error, rises only, warm-up 200",
        "adwin": "river.drift.ADWIN() defaults (delta=0.002, clock=32) on the same 0/1 error stream",
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
