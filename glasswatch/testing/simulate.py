"""Seeded simulated prediction streams with one known change, for tests, calibration and benches.

:func:`simulate` draws numeric features ``x0..x{n-1}`` (independent normals with distinct scales),
a categorical feature ``segment``, a prediction score independent of the features (so a feature
change touches only that feature's signals), a latency and Poisson arrivals, then injects one
change on ``[change_at, revert_at)`` (event indices):

``mean_shift``     ``x0`` shifts by ``magnitude`` of its standard deviations
``variance``       ``x0``'s deviation from its mean is multiplied by ``magnitude``
``category_mix``   ``segment`` switches to a reversed mix
``missing_rate``   ``x0`` is missing with probability ``magnitude``
``event_rate``     arrivals slow down by the factor ``magnitude`` (an event-rate drop)

``base`` may be a 2-D array of real rows (e.g. a bundled data set); rows are then bootstrapped
with the seed and its columns become ``x0, x1, ...``. Everything is vectorised with numpy.

Examples
--------
>>> recs = simulate(1000, change="mean_shift", change_at=500, magnitude=3.0, seed=1)
>>> len(recs), recs[0].event.features["segment"], recs[0].coord.offset
(1000, 'a', 0)
>>> import statistics
>>> round(statistics.mean(r.event.features["x0"] for r in recs[500:]))
3
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from glasswatch.monitor.windows import Located
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import PredictionEvent

__all__ = ["CATEGORIES", "MIX", "T0", "Change", "simulate"]

Change = Literal["mean_shift", "variance", "category_mix", "missing_rate", "event_rate"]
CATEGORIES = ("a", "b", "c", "d")
MIX = np.array([0.4, 0.3, 0.2, 0.1])
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def simulate(
    n: int,
    *,
    n_features: int = 10,
    rate: float = 100.0,
    change: Change | None = None,
    change_at: int = 0,
    revert_at: int | None = None,
    magnitude: float = 3.0,
    seed: int = 0,
    base: np.ndarray | None = None,
    model: str = "m",
    topic: str = "predictions",
    start: datetime = T0,
    first_offset: int = 0,
) -> list[Located]:
    rng = np.random.default_rng(seed)
    stop = n if revert_at is None else revert_at
    changed = np.zeros(n, dtype=bool)
    if change is not None:
        changed[change_at:stop] = True
    if base is not None:
        x = np.asarray(base, dtype=np.float64)[rng.integers(0, len(base), size=n)]
        n_features = x.shape[1]
    else:
        scales = 1.0 + np.arange(n_features)
        x = rng.normal(10.0 * np.arange(n_features), scales, size=(n, n_features))
    mu, sd = x[:, 0][~changed].mean() if (~changed).any() else 0.0, x[:, 0].std() or 1.0
    if change == "mean_shift":
        x[changed, 0] += magnitude * sd
    elif change == "variance":
        x[changed, 0] = mu + (x[changed, 0] - mu) * magnitude
    missing = np.zeros(n, dtype=bool)
    if change == "missing_rate":
        missing = changed & (rng.random(n) < magnitude)
    mix = np.broadcast_to(MIX, (n, 4))
    if change == "category_mix":
        mix = np.where(changed[:, None], MIX[::-1], MIX)
    seg = (rng.random(n)[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
    gaps = rng.exponential(1.0 / rate, size=n)
    if change == "event_rate":
        gaps[changed] *= magnitude
    times_us = np.round(np.cumsum(gaps) * 1e6).astype(np.int64)
    pred = rng.beta(2.0, 5.0, size=n)
    latency = rng.lognormal(3.0, 0.3, size=n)
    names = [f"x{j}" for j in range(n_features)]
    rows = x.tolist()
    out = []
    for i in range(n):
        feats: dict[str, float | str | None] = dict(zip(names, rows[i], strict=True))
        if missing[i]:
            feats["x0"] = None
        feats["segment"] = CATEGORIES[int(seg[i])]
        ev = PredictionEvent(
            model=model,
            model_version="1",
            prediction_id=f"p{first_offset + i}",
            event_time=start + timedelta(microseconds=int(times_us[i])),
            features=feats,
            prediction=float(pred[i]),
            latency_ms=float(latency[i]),
        )
        out.append(Located(ev, Coord(topic, 0, first_offset + i)))
    return out
