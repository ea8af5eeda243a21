"""Seeded simulated prediction streams with one known change, for tests, calibration and benches.

:func:`simulate` draws numeric features ``x0..x{n-1}`` (independent normals with distinct scales),
a categorical feature ``segment``, a prediction score independent of the features (so a feature
change touches only that feature's signals), a latency and Poisson arrivals, then injects one
change on ``[change_at, revert_at)`` (event indices):

``mean_shift``       ``x0`` shifts by ``magnitude`` of its standard deviations
``variance``         ``x0``'s deviation from its mean is multiplied by ``magnitude``
``category_mix``     ``segment`` switches to a reversed mix
``missing_rate``     ``x0`` is missing with probability ``magnitude``
``event_rate``       arrivals slow down by the factor ``magnitude`` (an event-rate drop)
``covariate_shift``  ``x0..x{shifted-1}`` each shift by ``magnitude`` of their standard deviations
``class_mix``        the predicted class mix switches from ``classes`` to ``changed_classes``

``base`` may be a 2-D array of real rows (e.g. a bundled data set); rows are then bootstrapped
with the seed and its columns become ``x0, x1, ...``. Everything is vectorised with numpy.

More shapes, each off by default (the default stream is unchanged, draw for draw):

* ``constant``: extra features with a fixed value on every row (``{"c20": 20.0}``);
  ``n_features=0`` leaves only those and ``segment``;
* ``arrivals="regular"``: event ``i`` arrives exactly at ``(i + 1) / rate`` seconds (no Poisson
  noise: a perfectly regular event rate);
* ``classes``: a classifier. ``prediction`` is a class label drawn from the mix ``classes`` (label
  -> share) and ``probabilities`` gives every class a probability, the predicted one the largest.
  Its confidence depends on the class (the first class most confident, the last least), so a
  class-mix change moves the confidence and entropy of the predictions too, as it does for real
  classifiers whose rare classes are the hard ones.

Examples
--------
>>> recs = simulate(1000, change="mean_shift", change_at=500, magnitude=3.0, seed=1)
>>> len(recs), recs[0].event.features["segment"], recs[0].coord.offset
(1000, 'a', 0)
>>> import statistics
>>> round(statistics.mean(r.event.features["x0"] for r in recs[500:]))
3
>>> clf = simulate(3000, n_features=0, constant={"c20": 20.0}, arrivals="regular", seed=2,
...                classes=CLASS_MIX, change="class_mix", change_at=1500)
>>> ev = clf[0].event
>>> ev.features["c20"], ev.event_time - T0, ev.prediction in CLASS_MIX, max(ev.probabilities.values()) > 1 / 3
(20.0, datetime.timedelta(microseconds=10000), True, True)
>>> [sum(r.event.prediction == "c" for r in part) // 100 for part in (clf[:1500], clf[1500:])]
[1, 7]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from glasswatch.monitor.windows import Located
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import PredictionEvent

__all__ = [
    "CATEGORIES",
    "CHANGED_CLASS_MIX",
    "CLASS_MIX",
    "MIX",
    "T0",
    "Arrivals",
    "Change",
    "simulate",
]

Change = Literal[
    "mean_shift", "variance", "category_mix", "missing_rate", "event_rate", "covariate_shift", "class_mix"
]
Arrivals = Literal["poisson", "regular"]
CATEGORIES = ("a", "b", "c", "d")
MIX = np.array([0.4, 0.3, 0.2, 0.1])
CLASS_MIX: Mapping[str, float] = {"a": 0.6, "b": 0.3, "c": 0.1}
"""A 3-class classifier's class mix (``classes=CLASS_MIX``)."""
CHANGED_CLASS_MIX: Mapping[str, float] = {"a": 0.2, "b": 0.3, "c": 0.5}
"""The mix ``change="class_mix"`` switches to by default."""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _classify(
    rng: np.random.Generator,
    changed: np.ndarray,
    classes: Mapping[str, float],
    changed_classes: Mapping[str, float],
) -> tuple[list[str], list[dict[str, float]]]:
    """Class labels from the mix (the changed mix where ``changed``) and their probabilities."""
    labels = list(classes)
    k = len(labels)
    before = np.array([classes[c] for c in labels], dtype=np.float64)
    after = np.array([changed_classes.get(c, 0.0) for c in labels], dtype=np.float64)
    mix = np.where(changed[:, None], after / after.sum(), before / before.sum())
    cls = np.minimum((rng.random(len(changed))[:, None] > np.cumsum(mix, axis=1)).sum(axis=1), k - 1)
    # top probability in (1/2, 1), so the predicted class is the most probable: class j's
    # confidence ~ Beta(a_j, 2) with a_j falling with j; the others share the rest
    lo = 1.0 if k == 1 else 0.5
    a = np.linspace(6.0, 2.0, k)[cls]
    top = lo + (1.0 - lo) * rng.beta(a, 2.0)
    rest = rng.dirichlet(np.ones(max(k - 1, 1)), size=len(changed)) * (1.0 - top)[:, None]
    probs = []
    for i, j in enumerate(cls.tolist()):
        others = iter(rest[i].tolist())
        probs.append({c: round(float(top[i]) if m == j else next(others), 6) for m, c in enumerate(labels)})
    return [labels[j] for j in cls.tolist()], probs


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
    shifted: int = 3,
    constant: Mapping[str, float] | None = None,
    arrivals: Arrivals = "poisson",
    classes: Mapping[str, float] | None = None,
    changed_classes: Mapping[str, float] = CHANGED_CLASS_MIX,
) -> list[Located]:
    """``n`` located prediction events of ``model`` (offsets from ``first_offset``, times after
    ``start``) with the ``change`` described in the module docstring."""
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
    mu, sd = 0.0, 1.0
    if n_features:
        mu, sd = x[:, 0][~changed].mean() if (~changed).any() else 0.0, x[:, 0].std() or 1.0
    if change == "mean_shift":
        x[changed, 0] += magnitude * sd
    elif change == "variance":
        x[changed, 0] = mu + (x[changed, 0] - mu) * magnitude
    elif change == "covariate_shift":
        k = min(shifted, n_features)
        x[changed, :k] += magnitude * (x[:, :k].std(axis=0) + (x[:, :k].std(axis=0) == 0))
    missing = np.zeros(n, dtype=bool)
    if change == "missing_rate":
        missing = changed & (rng.random(n) < magnitude)
    mix = np.broadcast_to(MIX, (n, 4))
    if change == "category_mix":
        mix = np.where(changed[:, None], MIX[::-1], MIX)
    seg = (rng.random(n)[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
    gaps = rng.exponential(1.0 / rate, size=n)
    if arrivals == "regular":
        gaps = np.full(n, 1.0 / rate)
    if change == "event_rate":
        gaps[changed] *= magnitude
    times_us = np.round(np.cumsum(gaps) * 1e6).astype(np.int64)
    pred = rng.beta(2.0, 5.0, size=n)
    latency = rng.lognormal(3.0, 0.3, size=n)
    labels: list[str] | None = None
    probs: list[dict[str, float]] | None = None
    if classes is not None:
        shifts = changed if change == "class_mix" else np.zeros(n, dtype=bool)
        labels, probs = _classify(rng, shifts, classes, changed_classes)
    names = [f"x{j}" for j in range(n_features)]
    rows = x.tolist()
    fixed = dict(constant or {})
    out = []
    for i in range(n):
        feats: dict[str, float | str | None] = dict(zip(names, rows[i], strict=True))
        if missing[i]:
            feats["x0"] = None
        feats.update(fixed)
        feats["segment"] = CATEGORIES[int(seg[i])]
        ev = PredictionEvent(
            model=model,
            model_version="1",
            prediction_id=f"p{first_offset + i}",
            event_time=start + timedelta(microseconds=int(times_us[i])),
            features=feats,
            prediction=float(pred[i]) if labels is None else labels[i],
            probabilities=None if probs is None else probs[i],
            latency_ms=float(latency[i]),
        )
        out.append(Located(ev, Coord(topic, 0, first_offset + i)))
    return out
