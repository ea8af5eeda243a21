"""CLI start-up: ``glasswatch --help`` against ``python -c "import typer"``, as a ratio (issue 13).

Variants, each a fresh interpreter (``sys.executable``), output to ``/dev/null``, run from an
empty folder (so the working tree is not put on ``sys.path`` by ``-m``):

* ``python``         ``python -c pass``: the interpreter alone
* ``import_typer``   ``python -c "import typer"``: the floor of any typer CLI (the reference)
* ``help``           ``python -m glasswatch --help`` (what the ``glasswatch`` console script runs:
                     ``glasswatch.cli:main``); ``script_help`` runs the console script itself when
                     it is installed next to the interpreter
* ``group_help``     ``python -m glasswatch dlq --help``: one command module imported

``--baseline DIR`` adds ``help@baseline``: the ``glasswatch`` package found in ``DIR`` (e.g.
``mkdir /tmp/base && git archive HEAD glasswatch | tar -x -C /tmp/base``), put first on
``PYTHONPATH``, in the same rounds: before and after under the same load.

Trust on a shared machine: ``--rounds`` rounds (default 7), interleaved (each round runs every
variant once, in an order rotated by the round); the ratio ``help / import_typer`` is computed
within each round and reported as the median and min–max over the rounds, next to the median and
min–max wall times. The 1-minute load average is recorded before and after each round. Target:
``help`` median under 0.5 s, or (on a loaded machine) its ratio to ``import typer`` under 5.

Usage: ``uv run --frozen python bench/cli.py [--rounds 7] [--baseline DIR]``. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_S = 0.5
TARGET_RATIO = 5.0
"""``help`` / ``import_typer``: 0.5 s where ``import typer`` takes 0.1 s (a quiet machine); the ratio
holds on a loaded one, where both slow down alike."""


def _variants(baseline: Path | None) -> dict[str, tuple[list[str], dict[str, str]]]:
    py = sys.executable
    env = {**os.environ, "COLUMNS": "100"}
    env.pop("PYTHONPATH", None)
    out: dict[str, tuple[list[str], dict[str, str]]] = {
        "python": ([py, "-c", "pass"], env),
        "import_typer": ([py, "-c", "import typer"], env),
        "help": ([py, "-m", "glasswatch", "--help"], env),
        "group_help": ([py, "-m", "glasswatch", "dlq", "--help"], env),
    }
    script = Path(py).parent / "glasswatch"
    if script.exists():
        out["script_help"] = ([str(script), "--help"], env)
    if baseline is not None:
        out["help@baseline"] = ([py, "-m", "glasswatch", "--help"], {**env, "PYTHONPATH": str(baseline)})
    return out


def _run(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed


def _summary(values: list[float], digits: int = 3) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--label", default="", help="a name for this run (e.g. before/after)")
    parser.add_argument("--baseline", type=Path, default=None, help="a folder holding a glasswatch package")
    args = parser.parse_args()
    variants = _variants(args.baseline)
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in names if n.endswith("help") or "help@" in n}
    loads: list[tuple[float, float]] = []
    cwd = tempfile.mkdtemp(prefix="gw-bench-cli-")
    try:
        for name in names:  # warm the page cache once; not measured
            _run(*variants[name], cwd)
        for r in range(args.rounds):
            before = os.getloadavg()
            order = names[r % len(names):] + names[: r % len(names)]
            this = {name: _run(*variants[name], cwd) for name in order}
            loads.append((round(before[0], 2), round(os.getloadavg()[0], 2)))
            for name, seconds in this.items():
                times[name].append(seconds)
            for name in ratios:
                ratios[name].append(this[name] / this["import_typer"])
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    help_median = statistics.median(times["help"])
    help_ratio = statistics.median(ratios["help"])
    result: dict[str, Any] = {
        "bench": "cli",
        "label": args.label,
        "python": sys.version.split()[0],
        "rounds": args.rounds,
        "seconds": {n: _summary(v) for n, v in times.items()},
        "ratio_to_import_typer": {n: _summary(v, 2) for n, v in ratios.items()},
        "target": {
            "help_median_s": TARGET_S,
            "help_ratio": TARGET_RATIO,
            "met_seconds": help_median < TARGET_S,
            "met_ratio": help_ratio < TARGET_RATIO,
        },
        "load_average_1m_before_after": loads,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
