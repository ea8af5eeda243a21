"""Memory: RSS and stored state bytes per model and per feature as events accumulate (no broker).

Feeds seeded traffic of ``--models`` models (``TrafficGenerator``, every monitor on, envelopes of
500, monitors run per batch of 2,000 events) through one
:class:`~glasswatch.monitor.partition.PartitionState`, exactly as the ingest agent does, and after
each checkpoint (default 1M and 5M events) records the process RSS, the size of the state's
changelog value (:mod:`glasswatch.kafka.state_store`: the parts format) and of each part, per
model and per feature. Bounded state means the value does not grow with the events: the issue's
target is growth ≤ 5 % from 1M to 5M.

Usage: ``uv run python bench/memory.py [--checkpoints 1000000,5000000] [--models 2]``; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", default="1000000,5000000")
    parser.add_argument("--models", type=int, default=2)
    args = parser.parse_args()
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))

    from glasswatch.ingest.validate import Limits, decode
    from glasswatch.kafka.state_codec import StateCodec
    from glasswatch.kafka.state_store import StateStore
    from glasswatch.monitor.partition import PartitionState
    from glasswatch.testing.traffic import TrafficGenerator

    start = datetime.now(UTC) - timedelta(days=120)
    gens = [TrafficGenerator(model=f"m{i}", seed=i, start=start, rate_per_s=200) for i in range(args.models)]
    n_features = len(gens[0].event(0)["features"])
    limits = Limits(max_clock_skew_s=1e12, max_age_s=1e12)
    now = datetime.now(UTC)
    state = PartitionState(topic="predictions", partition=0)
    store = StateStore(StateCodec(b"memory-bench-key-0123456789"))
    out: dict[str, Any] = {
        "benchmark": "memory",
        "models": args.models,
        "features_per_model": n_features,
        "load_average": {"before": [round(x, 2) for x in os.getloadavg()]},
        "checkpoints": [],
    }
    done, offset, t0 = 0, 0, time.perf_counter()
    per_model = 500 // args.models
    index = 0
    for target in checkpoints:
        while done < target:
            for _ in range(4):  # envelopes of 500 events (all models), 4 per batch
                events = [g.event(index + j) for g in gens for j in range(per_model)]
                index += per_model
                raw = orjson.dumps({"schema_version": 1, "type": "batch", "events": events})
                d = decode(raw, now=now, limits=limits)
                state.apply(offset, d.events, [r.reason for r in d.rejects], d.ticks)
                offset += 1
                done += len(events)
            state.run_monitors()
            state.take_alerts()
        value = store.encode("predictions:0", state, changed=None)
        parts = store._entries["predictions:0"].blobs
        models = {m: len(parts[f"stats/{m}"]) + len(parts.get(f"monitor/{m}", b"")) for m in state.models}
        out["checkpoints"].append(
            {
                "events": done,
                "seconds": round(time.perf_counter() - t0, 1),
                "rss_mb": _rss_mb(),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "state_bytes": len(value),
                "state_bytes_per_model": {m: b for m, b in models.items()},
                "state_bytes_per_feature": round(sum(models.values()) / (args.models * n_features)),
                "parts": {k: len(v) for k, v in parts.items()},
            }
        )
    first, last = out["checkpoints"][0], out["checkpoints"][-1]
    out["growth"] = {
        "state_bytes": round(last["state_bytes"] / first["state_bytes"] - 1, 4),
        "rss": round(last["rss_mb"] / first["rss_mb"] - 1, 4),
        "target": 0.05,
    }
    out["load_average"]["after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
