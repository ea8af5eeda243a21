"""The long fuzz run of the decoder (``just fuzz``): prints one JSON object.

    uv run --frozen python bench/fuzz.py [--messages 100000] [--seed 1] [--budget-s SECONDS]

Seeded mutations over valid events (:mod:`glasswatch.testing.mutations`), each decoded and checked:
``decode()`` never raises, every refusal has a known reason, every item is accounted for exactly
once. Exit status 1 when any message broke that (the first violations are in the JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from glasswatch.testing.fuzz import fuzz


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget-s", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    start = datetime.now(UTC) - timedelta(minutes=5)
    report = fuzz(args.messages, seed=args.seed, start=start, budget_s=args.budget_s)
    print(json.dumps({"seed": args.seed, **report.as_dict()}, indent=2))
    sys.exit(1 if report.crashes or report.violations else 0)


if __name__ == "__main__":
    main()
