"""``CategoryMix``: a learned category mix and the excess total-variation distance from it.

The reference frequencies are the running average of the windows' frequencies (cumulative at
first, then exponentially weighted with ``alpha``). :meth:`CategoryMix.distance` is the
total-variation distance between a window's frequencies and the reference *minus* the distance
that sampling ``n`` events alone produces (``E|p̂ - p| ≈ sqrt(2 p (1 - p) / (π n))`` per
category), so it stays near 0 on an unchanged mix whatever the window's count and grows with a
real change. The monitor feeds it to a learned band (signal ``<stream>:category_mix``).

Examples
--------
>>> mix = CategoryMix(alpha=0.05)
>>> mix.learn({"a": 0.7, "b": 0.3})
>>> round(mix.distance({"a": 0.7, "b": 0.3}, n=1000), 3)  # unchanged: ~0
-0.012
>>> round(mix.distance({"a": 0.3, "b": 0.7}, n=1000), 3)  # reversed
0.388
"""

from __future__ import annotations

import math

__all__ = ["CategoryMix"]


class CategoryMix:
    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha
        self.n = 0
        self.freqs: dict[str, float] = {}

    def distance(self, freqs: dict[str, float], n: int) -> float | None:
        """Excess total-variation distance of ``freqs`` (from ``n`` events); ``None`` before learning."""
        if not self.n or not freqs or n <= 0:
            return None
        keys = sorted(self.freqs.keys() | freqs.keys())
        tv = 0.5 * sum(abs(self.freqs.get(k, 0.0) - freqs.get(k, 0.0)) for k in keys)
        noise = 0.5 * sum(math.sqrt(2 * p * (1 - p) / (math.pi * n)) for p in self.freqs.values())
        return tv - noise

    def learn(self, freqs: dict[str, float]) -> None:
        if not freqs:
            return
        self.n += 1
        a = max(1.0 / self.n, self.alpha)
        for k in sorted(self.freqs.keys() | freqs.keys()):
            self.freqs[k] = (1 - a) * self.freqs.get(k, 0.0) + a * freqs.get(k, 0.0)
