"""Thresholds over one signal's per-window values, with the same :class:`Decision` output.

* :class:`StaticThreshold` — a fixed band ``[lower, upper]``.
* :class:`DynamicThreshold` — a band learned online: exact mean/variance over the first
  ``warmup`` windows (no firing then), afterwards an exponentially weighted mean and variance
  (weight ``alpha``) and the band ``mean ± k·max(std, min_std, min_rel·|mean|)``. EWMA was chosen
  over a rolling quantile band because it needs O(1) state, follows slow seasonal drift, and its
  ``k`` maps to a false-alarm rate that :mod:`glasswatch.monitor.calibration` can tune by replay.
  :meth:`DynamicThreshold.seed` starts it from a known baseline instead of a warm-up (a band
  bootstrapped from the model's reference data, :mod:`glasswatch.monitor.baselines`), and
  :meth:`DynamicThreshold.accept` moves it to the current level when a person accepts a new
  normal. :attr:`DynamicThreshold.baseline` says which of the three the band stands on.

**Floors.** The band's half-width is at least ``k·min_std`` (absolute) and ``k·min_rel·|mean|``
(relative), so a perfectly constant signal does not learn a zero-width band that fires on the
first float wobble.

Both run a small state machine (:class:`Latch`): the alert *fires* after ``hysteresis``
consecutive breaching windows and *resolves* after ``resolve_after`` consecutive windows back
inside. **Breaching windows are never learned into the band, and nothing is learned while the
alert is firing**: a persistent shift keeps firing until the signal comes back (or the monitor is
re-baselined) instead of being silently absorbed into the band it breaks.

Examples
--------
>>> import random
>>> rng = random.Random(7)
>>> th = DynamicThreshold(warmup=20, k=4.0, hysteresis=2, resolve_after=2)
>>> states = [th.update(rng.gauss(10, 1)).decision.state for _ in range(50)]
>>> states.count("firing")
0
>>> [th.update(x).decision.state for x in (30.0, 30.0, 10.0, 10.0)]
['none', 'firing', 'none', 'resolved']
>>> seeded = DynamicThreshold(k=4.0, hysteresis=1).seed(10.0, 1.0)  # no warm-up: from a reference
>>> seeded.update(16.0).decision.state, seeded.baseline
('firing', 'reference')
>>> DynamicThreshold(warmup=3, min_rel=0.01).update(20.0).update(20.0).update(20.0).band  # floor
(19.0, 21.0)
>>> StaticThreshold(upper=5.0).update(7.0).decision
Decision(state='firing', value=7.0, band=(None, 5.0), breaching=True, active=True, score=2.0)
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

from river import stats

__all__ = [
    "NO_DECISION",
    "BaselineKind",
    "Decision",
    "DynamicThreshold",
    "Latch",
    "StaticThreshold",
    "Transition",
]

Transition = Literal["firing", "resolved", "none"]
BaselineKind = Literal["learned", "reference", "accepted"]
"""What a band or detector judges against: its own warm-up (``learned``), the model version's
reference data (``reference``) or a level a person accepted as the new normal (``accepted``)."""


class Decision(NamedTuple):
    """What one update decided. ``state`` is the *transition*; ``active`` says if the alert is open.

    ``score`` is how far outside the band the value is (in band-widths or detector units).
    """

    state: Transition
    value: float | None
    band: tuple[float | None, float | None]
    breaching: bool
    active: bool
    score: float | None = None


NO_DECISION = Decision("none", None, (None, None), False, False)


class Latch:
    """Hysteresis: fire after ``hysteresis`` consecutive breaches, resolve after ``resolve_after`` clear.

    Shared by the thresholds, the model monitor's outage check and the dead-letter rate
    (:class:`~glasswatch.monitor.reject_rate.RejectRate`).

    >>> latch = Latch(hysteresis=2, resolve_after=1)
    >>> [latch.step(b) for b in (True, True, True, False)]
    ['none', 'firing', 'none', 'resolved']
    """

    def __init__(self, hysteresis: int = 1, resolve_after: int = 1) -> None:
        self.hysteresis = hysteresis
        self.resolve_after = resolve_after
        self.active = False
        self._streak = 0

    def reset(self) -> Transition:
        """Close the alert now (a new baseline): ``resolved`` if it was open, else ``none``."""
        was, self.active, self._streak = self.active, False, 0
        return "resolved" if was else "none"

    def step(self, breach: bool) -> Transition:
        if not self.active:
            self._streak = self._streak + 1 if breach else 0
            if self._streak >= self.hysteresis:
                self.active, self._streak = True, 0
                return "firing"
            return "none"
        self._streak = 0 if breach else self._streak + 1
        if self._streak >= self.resolve_after:
            self.active, self._streak = False, 0
            return "resolved"
        return "none"


class StaticThreshold:
    """Fixed band; ``None`` values (an empty window) leave the state unchanged."""

    def __init__(
        self,
        lower: float | None = None,
        upper: float | None = None,
        hysteresis: int = 1,
        resolve_after: int = 1,
    ) -> None:
        self.lower = lower
        self.upper = upper
        self.hysteresis = hysteresis
        self.resolve_after = resolve_after
        self._latch = Latch(hysteresis, resolve_after)
        self._decision = NO_DECISION

    @property
    def decision(self) -> Decision:
        return self._decision

    def update(self, x: float | None) -> StaticThreshold:
        if x is None:
            self._decision = NO_DECISION._replace(active=self._latch.active)
            return self
        over = x - self.upper if self.upper is not None and x > self.upper else 0.0
        under = self.lower - x if self.lower is not None and x < self.lower else 0.0
        breach = over > 0 or under > 0
        state = self._latch.step(breach)
        band = (self.lower, self.upper)
        self._decision = Decision(state, x, band, breach, self._latch.active, over + under)
        return self


class DynamicThreshold:
    """Band learned from the signal's own history (see the module docstring)."""

    # class-level defaults: a state pickled before these existed restores with them
    min_rel: float = 0.0
    baseline: BaselineKind = "learned"
    _last: float | None = None

    def __init__(
        self,
        warmup: int = 20,
        k: float = 5.0,
        alpha: float = 0.05,
        hysteresis: int = 2,
        resolve_after: int = 3,
        min_std: float = 0.0,
        side: Literal["both", "upper", "lower"] = "both",
        min_rel: float = 0.0,
    ) -> None:
        self.warmup = warmup
        self.k = k
        self.alpha = alpha
        self.hysteresis = hysteresis
        self.resolve_after = resolve_after
        self.min_std = min_std
        self.side = side
        self.min_rel = min_rel
        self.baseline: BaselineKind = "learned"
        self._last: float | None = None
        self._latch = Latch(hysteresis, resolve_after)
        self._var = stats.Var()
        self._n = 0
        self._nref = 0.0
        self._mean = 0.0
        self._ewvar = 0.0
        self._decision = NO_DECISION

    @property
    def decision(self) -> Decision:
        return self._decision

    @property
    def n_learned(self) -> int:
        return self._n

    @property
    def band(self) -> tuple[float | None, float | None]:
        return self._band(None)

    @property
    def std(self) -> float:
        """The band's standard deviation, floors applied (before ``k`` and the count scaling)."""
        rel = max(self.min_rel, 1e-9) * abs(self._mean)
        return max(math.sqrt(max(self._ewvar, 0.0)), self.min_std, rel, 1e-12)

    def seed(self, mean: float, std: float, n_ref: float | None = None) -> DynamicThreshold:
        """Start from a known baseline (mean and standard deviation of the signal's window values,
        at ``n_ref`` events per window) instead of a warm-up: the band is armed at once."""
        self._n = max(self.warmup, 1)
        self._mean, self._ewvar, self._nref = float(mean), float(std) ** 2, float(n_ref or 0.0)
        self._latch = Latch(self.hysteresis, self.resolve_after)
        self.baseline = "reference"
        return self

    def accept(self) -> Transition:
        """Accept the last value as the new normal: the band moves to it (keeping its learned
        width) and an open alert resolves (``resolved``; ``none`` if none was open)."""
        if self._last is not None and self._n >= self.warmup:
            self._mean = self._last
        self.baseline = "accepted"
        state = self._latch.reset()
        self._decision = self._decision._replace(state=state, active=False, breaching=False)
        return state

    def _band(self, n: int | None) -> tuple[float | None, float | None]:
        if self._n < self.warmup:
            return (None, None)
        width = self.k * self.std
        if n and self._nref:
            width *= math.sqrt(self._nref / n)
        return (
            self._mean - width if self.side != "upper" else None,
            self._mean + width if self.side != "lower" else None,
        )

    def _learn(self, x: float, n: int | None) -> None:
        self._n += 1
        if n and self._n <= self.warmup:
            self._nref += (n - self._nref) / self._n
        if self._n <= self.warmup:
            self._var.update(x)
            self._mean = self._var.mean.get()
            self._ewvar = self._var.get() if self._n > 1 else 0.0
            return
        diff = x - self._mean
        incr = self.alpha * diff
        self._mean += incr
        self._ewvar = (1 - self.alpha) * (self._ewvar + diff * incr)

    def update(self, x: float | None, n: int | None = None) -> DynamicThreshold:
        """Add one window's value; ``n`` (its event count) widens the band for sparse windows.

        A window mean's sampling noise grows like ``1/sqrt(n)``: with ``n`` given, the band is
        scaled by ``sqrt(n_ref / n)`` where ``n_ref`` is the mean count over the warm-up windows,
        so an event-rate drop does not make every other signal look noisy.
        """
        if x is None:
            self._decision = NO_DECISION._replace(active=self._latch.active)
            return self
        self._last = x
        if self._n < self.warmup:
            self._learn(x, n)
            self._decision = Decision("none", x, (None, None), False, False)
            return self
        lower, upper = self._band(n)
        breach = (upper is not None and x > upper) or (lower is not None and x < lower)
        was_active = self._latch.active
        state = self._latch.step(breach)
        if not breach and not was_active and state == "none":
            self._learn(x, n)
        half = (upper - self._mean) if upper is not None else (self._mean - (lower or 0.0))
        score = (x - self._mean) / half * self.k if half > 0 else None
        self._decision = Decision(state, x, (lower, upper), breach, self._latch.active, score)
        return self
