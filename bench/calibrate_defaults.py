"""Calibrate glasswatch's shipped default rule parameters on clean simulated streams (issue 11).

**Streams.** ``--seeds`` (2) clean streams of :func:`glasswatch.testing.simulate.simulate` (10
numeric features ``x0..x9``, a categorical ``segment``, a prediction score, latency, Poisson
arrivals) at ``--rate`` 100 events/s, ``--events`` (1,000,000) in all, generated in chunks of
50,000 so memory stays flat; each stream is its own history (a monitor from scratch, warm-up
included). **Spec.** The default spec, ``MonitorSpec(model="m")`` with ``--window-seconds`` 60
(~6,000 events per window): its set of signals, anomaly scoring on, learned baselines.

**Method.** :func:`glasswatch.monitor.calibration.calibrate_spec` over all four families
(``dynamic``, ``page_hinkley``, ``adwin``, ``kswin``; KSWIN is not in the default spec but is
measured on the same signals), each alone, with a budget of ``--target`` (0.25) false alarms per
100,000 events per family (4 families → ≤ 1 per 100k for the default config).

**Output (JSON lines on stdout).** One line per family: ``param``, ``current`` (the shipped
default), ``current_false_alarms`` and ``current_per_100k``, ``calibrated``, ``calibrated_per_100k``,
``met``, ``replays``. A last line: events, closed windows, the default config's rate with every
rule on (fingerprints shared) for the shipped and the calibrated spec, and CPU seconds of the one
pass over the events (``pass_cpu_s``: what one full replay of the events costs) and of all
candidate replays over the recorded windows (``calibrate_cpu_s``). Progress on stderr.

Run: ``uv run --frozen python bench/calibrate_defaults.py`` (~2-3 min CPU, mostly generating
and windowing the events); ``--events 200000`` for a quick look.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator

from glasswatch.monitor.calibration import FAMILIES, CleanHistory, FamilyCalibration, calibrate_spec
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.windows import Located
from glasswatch.testing.simulate import simulate

CHUNK = 50_000


def clean_stream(n: int, seed: int, rate: float) -> Iterator[Located]:
    """``n`` clean events in chunks (seeded per chunk), times and offsets continuing."""
    done, k, start = 0, 0, None
    while done < n:
        size = min(CHUNK, n - done)
        extra = {} if start is None else {"start": start}
        chunk = simulate(size, rate=rate, seed=seed * 1_000_003 + k, first_offset=done, **extra)  # type: ignore[arg-type]
        start = chunk[-1].event.event_time
        done, k = done + size, k + 1
        yield from chunk


def default_rate(histories: list[CleanHistory], spec: MonitorSpec, events: int) -> float:
    """False alarms per 100k events of ``spec`` with every rule on (dynamic and detector sources)."""
    fired = sum(
        a.status.value == "firing" and a.labels.get("source", "").startswith(("dynamic", "detector:"))
        for h in histories
        for a in h.alerts(spec)
    )
    return fired * 1e5 / events


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000, help="clean events over all seeds")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--window-seconds", type=float, default=60.0)
    p.add_argument("--target", type=float, default=0.25, help="false alarms per 100k events per family")
    p.add_argument("--iterations", type=int, default=8)
    args = p.parse_args()

    spec = MonitorSpec(model="m", window={"size_seconds": args.window_seconds})
    per_seed = args.events // args.seeds
    started = time.process_time()
    histories = []
    for seed in range(1, args.seeds + 1):
        t = time.process_time()
        histories.append(CleanHistory(spec, clean_stream(per_seed, seed, args.rate)))
        h = histories[-1]
        print(f"seed {seed}: {h.events:,} events, {len(h.windows)} windows, "
              f"{time.process_time() - t:.1f} s CPU", file=sys.stderr)  # fmt: skip
    pass_cpu = time.process_time() - started

    def progress(f: FamilyCalibration) -> None:
        print(f"{f.family}: {f.param} {f.current:g} -> {f.value:g}, {f.per_100k:.3g} false alarms per "
              f"100k (was {f.current_per_100k:.3g})", file=sys.stderr)  # fmt: skip

    t = time.process_time()
    result = calibrate_spec(spec, *histories, false_alarms_per_100k=args.target * len(FAMILIES),
                            families=FAMILIES, iterations=args.iterations, progress=progress)  # fmt: skip
    cal_cpu = time.process_time() - t
    for f in result.families.values():
        row = {
            "family": f.family,
            "param": f.param,
            "current": f.current,
            "current_per_100k": round(f.current_per_100k, 3),
            "calibrated": f.value,
            "calibrated_per_100k": round(f.per_100k, 3),
            "target_per_100k": f.target_per_100k,
            "met": f.met,
            "replays": len(f.history),
        }
        print(json.dumps(row))
    calibrated = result.calibrated_spec()
    summary = {
        "events": result.events,
        "seeds": args.seeds,
        "windows": result.windows,
        "events_per_window": round(args.rate * args.window_seconds),
        "default_config_per_100k": round(default_rate(histories, spec, result.events), 3),
        "calibrated_config_per_100k": round(default_rate(histories, calibrated, result.events), 3),
        "replays": result.replays,
        "pass_cpu_s": round(pass_cpu, 1),
        "calibrate_cpu_s": round(cal_cpu, 1),
        "total_cpu_s": round(time.process_time() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
