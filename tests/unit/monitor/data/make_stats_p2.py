"""Writes ``stats_p2.bin``: feature statistics pickled by the code before the reservoir (P²).

Needs the code of the commit **before** :mod:`glasswatch.monitor.stats` swapped its three River
P² ``Quantile`` estimators per feature for a reservoir sample (issue 14): that code pickled a
:class:`~glasswatch.monitor.stats.FeatureStats` with ``_q`` (a list of ``river.stats.Quantile``),
and the worker's changelog holds such pickles. Run it against such a checkout with this
project's virtualenv::

    git archive <commit> glasswatch | tar -x -C /tmp/gw-p2
    PYTHONPATH=/tmp/gw-p2 .venv/bin/python tests/unit/monitor/data/make_stats_p2.py

It also writes ``stats_p2.json``: the summaries of those objects measured at generation time;
``tests/unit/monitor/test_stats.py`` loads the pickle with today's code and compares.
"""

from __future__ import annotations

import json
import pickle
import random
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["BIN", "FIGURES", "main"]

HERE = Path(__file__).resolve().parent
BIN = HERE / "stats_p2.bin"
FIGURES = HERE / "stats_p2.json"


def main() -> None:
    from glasswatch.monitor.stats import FeatureStats, ModelStats
    from glasswatch.schemas.events import PredictionEvent

    rng = random.Random(7)
    numeric = FeatureStats()
    numeric.update_many([rng.gauss(10.0, 2.0) if i % 50 else None for i in range(3000)])
    mixed = FeatureStats(max_categories=3)
    for i in range(500):
        mixed.update(rng.choice("abcde") if i % 3 else rng.random())
    model = ModelStats()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    model.update_many(
        PredictionEvent(
            model="m",
            model_version=str(i % 2),
            prediction_id=f"p{i}",
            event_time=t0,
            features={"x": rng.expovariate(1.0), "c": rng.choice("xy")},
            prediction=rng.random(),
        )
        for i in range(2000)
    )
    objs = {"numeric": numeric, "mixed": mixed, "model": model}
    BIN.write_bytes(pickle.dumps(objs, protocol=5))
    FIGURES.write_text(
        json.dumps(
            {"numeric": numeric.summary(), "mixed": mixed.summary(), "model": model.summary()},
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
