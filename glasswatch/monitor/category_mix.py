"""``CategoryMix``: a learned category mix and the excess total-variation distance from it.

The reference frequencies are the running average of the windows' frequencies (cumulative at
first, then exponentially weighted with ``alpha``): :meth:`CategoryMix.update` learns one window's
mix. :meth:`CategoryMix.distance` is the total-variation distance between a window's frequencies
and the reference *minus* the distance that sampling ``n`` events alone produces
(``E|p̂ - p| ≈ sqrt(2 p (1 - p) / (π n))`` per category), so it stays near 0 on an unchanged mix
whatever the window's count and grows with a real change. The monitor feeds it to a learned band
(signal ``<stream>:category_mix``).

The reference names at most ``max_categories`` categories; once full, a newcomer's share counts
under ``__other__`` (as the window aggregates do), so a producer inventing names cannot grow it.

Examples
--------
>>> mix = CategoryMix(alpha=0.05).update({"a": 0.7, "b": 0.3})
>>> round(mix.distance({"a": 0.7, "b": 0.3}, n=1000), 3)  # unchanged: ~0
-0.012
>>> round(mix.distance({"a": 0.3, "b": 0.7}, n=1000), 3)  # reversed
0.388
>>> small = CategoryMix(max_categories=2).update({"a": 0.5, "b": 0.25, "c": 0.25})
>>> small.freqs
{'__other__': 0.25, 'a': 0.5, 'b': 0.25}
"""

from __future__ import annotations

import math

from glasswatch.monitor.aggregates import MAX_CATEGORIES, OTHER

__all__ = ["CategoryMix"]


class CategoryMix:
    """Reference category frequencies learned window by window; constructor args kept verbatim."""

    def __init__(self, alpha: float = 0.05, max_categories: int = MAX_CATEGORIES) -> None:
        self.alpha = alpha
        self.max_categories = max_categories
        self.n = 0
        self.freqs: dict[str, float] = {}

    def _bounded(self, freqs: dict[str, float]) -> dict[str, float]:
        """``freqs`` with the names that find no room in the reference merged into ``__other__``."""
        known = self.freqs
        room = self.max_categories - sum(1 for k in known if k != OTHER)
        out: dict[str, float] = {}
        for k in sorted(freqs):
            if k in known or k == OTHER:
                out[k] = out.get(k, 0.0) + freqs[k]
            elif room > 0:
                room -= 1
                out[k] = freqs[k]
            else:
                out[OTHER] = out.get(OTHER, 0.0) + freqs[k]
        return out

    def distance(self, freqs: dict[str, float], n: int) -> float | None:
        """Excess total-variation distance of ``freqs`` (from ``n`` events); ``None`` before learning."""
        if not self.n or not freqs or n <= 0:
            return None
        freqs = self._bounded(freqs)
        keys = sorted(self.freqs.keys() | freqs.keys())
        tv = 0.5 * sum(abs(self.freqs.get(k, 0.0) - freqs.get(k, 0.0)) for k in keys)
        noise = 0.5 * sum(math.sqrt(2 * p * (1 - p) / (math.pi * n)) for p in self.freqs.values())
        return tv - noise

    def update(self, freqs: dict[str, float]) -> CategoryMix:
        """Learn one window's frequencies (an empty mix is ignored)."""
        if not freqs:
            return self
        freqs = self._bounded(freqs)
        self.n += 1
        a = max(1.0 / self.n, self.alpha)
        for k in sorted(self.freqs.keys() | freqs.keys()):
            self.freqs[k] = (1 - a) * self.freqs.get(k, 0.0) + a * freqs.get(k, 0.0)
        return self

