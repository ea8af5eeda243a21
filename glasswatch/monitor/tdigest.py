"""All-time quantiles of a stream: a merging t-digest, vectorised, deterministic and bounded.

Values wait in a buffer of :data:`BUFFER`; each time it fills they are merged into the sorted
centroids (mean, weight) with numpy: sort, then every run of items whose centre falls in one
unit of the scale ``k(q) = delta / (2 pi) * asin(2q - 1)`` becomes one centroid. ``k`` spans
``delta / 2`` units, so there are at most ``delta / 2 + 1`` centroids (251 at the default
``delta=500``: 4 KB) plus the buffer. No randomness: the buffer flushes after every
:data:`BUFFER`-th value whatever the batching, so :meth:`TDigest.update` value by value and
:meth:`TDigest.update_many` in any blocks give the same centroids, bit for bit. A quantile
interpolates between the centroid centres, the exact min and max at the ends (the buffer is
included, not flushed).

Accuracy. A centroid holds, when it is formed, at most one unit of ``k``: a share of the
weight of about ``2 pi sqrt(q (1 - q)) / delta`` around rank ``q`` (0.63 % at the median,
0.27 % at p05/p95 for ``delta=500``), and the interpolated quantile lies within the ranks of the
centroids around it, so the rank error is below that share (tails are tighter; a stream shorter
than :data:`BUFFER` is exact up to interpolation). Measured rank errors on 50,000 values
(|F(estimate) − q| for q = 0.05, 0.50, 0.95; ``/tmp`` study of issue 14): normal, log-normal,
bimodal 30/70, Pareto(1.2), a linear trend, a mean shift halfway, sorted input and integers
0–5 all ≤ 0.0005. River's P² (what :mod:`~glasswatch.monitor.stats` used before) gave ≤ 0.0004
on the stationary continuous streams but 0.005 on the bimodal median, 0.046 on the trend,
0.018 on the shift and 0.12 on the integers, at ~1.4 µs per value and quantile against ~0.3 µs
per value for all quantiles here.

Examples
--------
>>> import random
>>> rng = random.Random(3)
>>> xs = [rng.gauss(0.0, 1.0) for _ in range(20_000)]
>>> d = TDigest().update_many(xs)
>>> exact = sorted(xs)
>>> qs = (0.05, 0.50, 0.95)
>>> [round(v, 2) for v in d.quantiles(qs)], [round(exact[i], 2) for i in (999, 9999, 18999)]
([-1.67, -0.01, 1.64], [-1.67, -0.01, 1.64])
>>> e = TDigest()
>>> for x in xs:
...     _ = e.update(x)
>>> e.quantiles(qs) == d.quantiles(qs), d.n, len(d.means) <= 251
(True, 20000, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["BUFFER", "DELTA", "TDigest"]

DELTA = 500.0
"""Compression: at most ``DELTA / 2 + 1`` centroids."""

BUFFER = 256
"""Values merged at once (the state holds up to this many raw values besides the centroids)."""


def _merge(means: np.ndarray, weights: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(means, kind="stable")
    means, weights = means[order], weights[order]
    cum = np.cumsum(weights)
    centre = (cum - weights / 2) / cum[-1]
    k = np.floor(delta / (2 * math.pi) * np.arcsin(np.clip(2 * centre - 1, -1.0, 1.0)))
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    w = np.add.reduceat(weights, starts)
    share = weights / np.repeat(w, np.diff(np.append(starts, len(weights))))  # convex: no overflow
    return np.add.reduceat(means * share, starts), w


class TDigest:
    """Mergeable-centroid quantile sketch of one stream of floats (see the module docstring)."""

    def __init__(self, delta: float = DELTA, buffer: int = BUFFER):
        self.delta = delta
        self.buffer = buffer
        self.means = np.empty(0)
        self.weights = np.empty(0)
        self.lo = math.inf
        self.hi = -math.inf
        self._buf = np.zeros(buffer)  # fixed size: the pickled state does not wobble with its fill
        self._fill = 0

    @property
    def n(self) -> int:
        """Values seen."""
        return int(self.weights.sum()) + self._fill

    def update(self, x: float) -> TDigest:
        self._buf[self._fill] = x
        self._fill += 1
        if self._fill >= self.buffer:
            self._flush()
        return self

    def update_many(self, xs: Sequence[float]) -> TDigest:
        """Same state as :meth:`update` per value; merges at the same points."""
        i, n, buf = 0, len(xs), self._buf
        while n - i >= self.buffer - self._fill:
            take = self.buffer - self._fill
            buf[self._fill :] = xs[i : i + take]
            self._fill = self.buffer
            i += take
            self._flush()
        buf[self._fill : self._fill + n - i] = xs[i:]
        self._fill += n - i
        return self

    def _centroids(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        if not self._fill:
            return self.means, self.weights, self.lo, self.hi
        block = self._buf[: self._fill]
        means, weights = _merge(
            np.concatenate((self.means, block)),
            np.concatenate((self.weights, np.ones(len(block)))),
            self.delta,
        )
        return means, weights, min(self.lo, float(block.min())), max(self.hi, float(block.max()))

    def _flush(self) -> None:
        self.means, self.weights, self.lo, self.hi = self._centroids()
        self._fill = 0

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        """The estimates of the quantiles ``qs`` (each in [0, 1]); empty list entries are NaN."""
        means, weights, lo, hi = self._centroids()
        if not len(weights):
            return [math.nan for _ in qs]
        total = float(weights.sum())
        centres = np.cumsum(weights) - weights / 2
        xp = np.concatenate(([0.0], centres, [total]))
        fp = np.concatenate(([lo], means, [hi]))
        return [float(v) for v in np.interp(np.asarray(qs, dtype=np.float64) * total, xp, fp)]
