"""Detection quality of glasswatch's online detectors on seeded streams with known change points.

Each scenario is a stream of prediction events (100 events/s, 10 s windows, ~1,000 events per
window) whose features come from River's ``synth.Friedman`` generator or from River's bundled
``Bananas`` data set (real rows, bootstrapped), with one change injected at a known event index
(see ``glasswatch.testing.simulate``): mean shift, variance change, category-mix change,
missing-rate jump, event-rate drop, and a clean stream. Every detector runs alone inside a
``ModelMonitor`` (same windows, same signals); per detector and scenario the bench prints JSON:

* ``delay_events``: events from the change to the end of the first alerting window on the changed
  stream (mean over seeds that detected it; window granularity is ~1,000 events),
* ``missed``: seeds in which the change raised no alert on the changed stream,
* ``false_alarms_per_10k``: firing alerts before the change or on unrelated signals, per 10,000
  events.

Run: ``.venv/bin/python bench/detection.py`` (about 45 s of CPU; no downloads).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from typing import Any

import numpy as np
from river import datasets
from river.datasets import synth

from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.specs import DetectorSpec, MonitorSpec, SignalSpec
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import AlertStatus
from glasswatch.testing.simulate import simulate

N, CHANGE_AT, SEEDS, BATCH = 45_000, 25_000, (1, 2), 5_000
WINDOW = {"size_seconds": 10.0}

X0, SEG, EVENTS = "feature:x0:", "feature:segment:", "events:"
SCENARIOS: dict[str, dict[str, Any]] = {
    # name -> simulate() arguments and the stream whose signals should alert
    "clean": {"change": None, "source": "friedman", "stream": None},
    "mean_shift": {"change": "mean_shift", "magnitude": 0.5, "source": "friedman", "stream": X0},
    "mean_shift_bananas": {"change": "mean_shift", "magnitude": 0.5, "source": "bananas", "stream": X0},
    "outliers_bananas": {"change": "mean_shift", "magnitude": 3.0, "source": "bananas", "stream": X0},
    "variance": {"change": "variance", "magnitude": 1.5, "source": "friedman", "stream": X0},
    "category_mix": {"change": "category_mix", "magnitude": 1.0, "source": "friedman", "stream": SEG},
    "missing_rate": {"change": "missing_rate", "magnitude": 0.1, "source": "friedman", "stream": X0},
    "event_rate": {"change": "event_rate", "magnitude": 3.0, "source": "friedman", "stream": EVENTS},
}


def _only(**signal: Any) -> SignalSpec:
    return SignalSpec(**signal)


DETECTORS: dict[str, MonitorSpec] = {
    "dynamic_threshold": MonitorSpec(
        model="m", window=WINDOW, anomaly={"enabled": False}, default=_only(detectors=())
    ),
    **{
        kind: MonitorSpec(
            model="m",
            window=WINDOW,
            anomaly={"enabled": False},
            default=_only(dynamic=None, detectors=(DetectorSpec(kind=kind),)),
        )
        for kind in ("adwin", "page_hinkley", "kswin")
    },
    "hst_anomaly_rate": MonitorSpec(
        model="m",
        window=WINDOW,
        default=_only(enabled=False),
        signals={"anomaly:rate": _only(detectors=())},
    ),
}


def _base(source: str, seed: int) -> np.ndarray:
    if source == "bananas":
        rows = [list(x.values()) for x, _ in datasets.Bananas()]  # type: ignore[no-untyped-call]
    else:
        rows = [list(x.values()) for x, _ in itertools.islice(synth.Friedman(seed=seed), 5_000)]
    return np.asarray(rows, dtype=np.float64)


def _run(spec: MonitorSpec, recs: list[Located], prefix: str | None) -> tuple[int | None, int]:
    mon = ModelMonitor(spec)
    first: int | None = None
    false = 0
    for i in range(0, len(recs), BATCH):
        for a in mon.update_many(recs[i : i + BATCH]).alerts:
            if a.status is not AlertStatus.FIRING:
                continue
            last = max(o.last for o in a.lineage.offsets) if a.lineage.offsets else 0
            relevant = prefix is not None and (a.signal.startswith(prefix) or spec.anomaly.enabled)
            if relevant and last >= CHANGE_AT:
                first = last - CHANGE_AT if first is None else first
            else:
                false += 1
    return first, false


def main() -> int:
    started = time.perf_counter()
    streams = {
        (name, seed): simulate(
            N,
            change=sc["change"],
            change_at=CHANGE_AT,
            magnitude=sc.get("magnitude", 0.0),
            seed=seed,
            base=_base(sc["source"], seed),
        )
        for name, sc in SCENARIOS.items()
        for seed in SEEDS
    }
    results = []
    for det, spec in DETECTORS.items():
        for name, sc in SCENARIOS.items():
            delays, missed, false = [], 0, 0
            for seed in SEEDS:
                first, fa = _run(spec, streams[(name, seed)], sc["stream"])
                false += fa
                if sc["stream"] is not None:
                    if first is None:
                        missed += 1
                    else:
                        delays.append(first)
            row = {
                "detector": det,
                "scenario": name,
                "runs": len(SEEDS),
                "events_per_run": N,
                "change_at": None if sc["change"] is None else CHANGE_AT,
                "delay_events": round(sum(delays) / len(delays)) if delays else None,
                "missed": missed if sc["stream"] is not None else None,
                "false_alarms_per_10k": round(false * 10_000 / (N * len(SEEDS)), 3),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
