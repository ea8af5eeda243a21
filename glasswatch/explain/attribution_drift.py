"""Attribution drift: does the model rely on its features as it did at training time?

Each window's mean |SHAP| profile is compared with the training-time profile (logged by
``glasswatch train``, :mod:`glasswatch.training.explain`):

* ``rank_correlation`` — Spearman's correlation of the two rankings over the ``top`` features of
  either profile (the tail of near-zero features only adds noise; features with no attribution
  on either side, such as columns the model drops, are left out);
* ``distance`` — the L1 distance of the two profiles, each normalised to sum 1 (0: the same
  shape, 2: disjoint).

Decision: two rules, either one is drift.

* **fixed guard** — ``rank_correlation < min_correlation`` **or** ``distance > max_distance``
  (defaults 0.5 and 0.5, documented in the README). Chosen on the example forest: windows of
  25 reference rows score 0.95–0.99 / 0.05–0.09; a window whose eight top features are pinned
  at their training mean (the model must decide on the others) scores 0.13 / 0.59. It judges
  every window, so a change in the first windows (before any band is learned) still fires.
* **learned band** (``band``, :class:`AttributionBand`; ``None`` turns it off) — a
  :class:`glasswatch.monitor.thresholds.DynamicThreshold` on the distance (upper side) and one on
  the rank correlation (lower side), learned from this version's own windows like the monitors'
  dynamic thresholds (warm-up, EWMA, ``k``, hysteresis; floors ``min_std_*`` so a steady profile
  does not learn a zero-width band). It catches a smaller, lasting change than the guard (say
  a distance going from 0.07 to 0.3). A window the guard calls drifted is not fed to the bands
  (so a change is never learned as normal); while a band's alert is open the window is drifted.

:attr:`AttributionComparison.rules` names the rules that fired (``fixed_correlation``,
``fixed_distance``, ``learned_distance``, ``learned_correlation``) and ``bands`` the learned
bands in force; the ``attribution_drift`` alert's evidence carries both. Windows with fewer than
``min_explanations`` explanations are not judged (nor learned).

Examples
--------
>>> train = {"a": 0.5, "b": 0.3, "c": 0.15, "d": 0.05}
>>> d = AttributionDrift(train)
>>> d.update({"a": 0.45, "b": 0.35, "c": 0.12, "d": 0.06}, explanations=50).drift_detected
False
>>> d.update({"d": 0.5, "c": 0.3, "b": 0.15, "a": 0.05}, explanations=50).drift_detected
True
>>> round(d.last.rank_correlation, 2), round(d.last.distance, 2)
(-1.0, 1.2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Self

from glasswatch.explain.profile import rank_of
from glasswatch.monitor.thresholds import DynamicThreshold

__all__ = ["AttributionBand", "AttributionComparison", "AttributionDrift", "Band", "Rule", "normalised_l1",
           "spearman"]


def _average_ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Mapping[str, float], b: Mapping[str, float], features: list[str] | None = None) -> float:
    """Spearman correlation (average ranks for ties) over ``features`` (default: the union);
    a missing feature counts 0. 1.0 when either side is constant.

    >>> spearman({"a": 3, "b": 2, "c": 1}, {"a": 1, "b": 2, "c": 3})
    -1.0
    """
    names = features if features is not None else sorted(set(a) | set(b))
    if len(names) < 2:
        return 1.0
    ra = _average_ranks([a.get(n, 0.0) for n in names])
    rb = _average_ranks([b.get(n, 0.0) for n in names])
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    if va == 0 or vb == 0:
        return 1.0
    return float(cov / (va * vb) ** 0.5)


def normalised_l1(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """L1 distance of ``a`` and ``b`` each scaled to sum 1 (a zero profile counts as uniform 0).

    >>> normalised_l1({"a": 2, "b": 2}, {"a": 1, "b": 1}), normalised_l1({"a": 1}, {"b": 1})
    (0.0, 2.0)
    """
    sa, sb = sum(abs(v) for v in a.values()), sum(abs(v) for v in b.values())
    names = set(a) | set(b)
    return float(sum(abs((abs(a.get(n, 0.0)) / sa if sa else 0.0) - (abs(b.get(n, 0.0)) / sb if sb else 0.0))
                     for n in names))


Rule = Literal["fixed_correlation", "fixed_distance", "learned_distance", "learned_correlation"]
Band = tuple[float | None, float | None]


@dataclass(frozen=True)
class AttributionBand:
    """Parameters of the learned bands (:class:`~glasswatch.monitor.thresholds.DynamicThreshold`
    arguments; ``min_std_*`` are the floors of the distance and the correlation bands)."""

    warmup: int = 10
    k: float = 4.0
    alpha: float = 0.05
    hysteresis: int = 2
    resolve_after: int = 2
    min_std_distance: float = 0.02
    min_std_correlation: float = 0.05


@dataclass(frozen=True)
class AttributionComparison:
    rank_correlation: float
    distance: float
    drifted: bool
    features: tuple[str, ...]
    """The features the ranking was compared on."""
    rules: tuple[Rule, ...] = ()
    """The rules that called the window drifted (empty when it is not)."""
    bands: dict[str, Band] = field(default_factory=dict)
    """The learned bands in force (``distance``: upper, ``rank_correlation``: lower), once armed."""


def _threshold(band: AttributionBand, min_std: float, side: Literal["upper", "lower"]) -> DynamicThreshold:
    return DynamicThreshold(warmup=band.warmup, k=band.k, alpha=band.alpha, hysteresis=band.hysteresis,
                            resolve_after=band.resolve_after, min_std=min_std, side=side)


class AttributionDrift:
    """Compares window profiles with the training profile (see the module docstring).

    >>> d = AttributionDrift({"a": 0.5, "b": 0.3, "c": 0.2}, band=AttributionBand(warmup=5))
    >>> for _ in range(5):
    ...     _ = d.update({"a": 0.5, "b": 0.3, "c": 0.2}, explanations=50)
    >>> d.update({"a": 0.4, "b": 0.3, "c": 0.3}, explanations=50).last.rules  # below the guard
    ()
    >>> d.update({"a": 0.4, "b": 0.3, "c": 0.3}, explanations=50).last.rules  # hysteresis 2
    ('learned_distance',)
    """

    def __init__(self, training: Mapping[str, float], *, min_correlation: float = 0.5,
                 max_distance: float = 0.5, top: int = 10, min_explanations: int = 20,
                 band: AttributionBand | None = AttributionBand()) -> None:
        self.training = dict(training)
        self.min_correlation = min_correlation
        self.max_distance = max_distance
        self.top = top
        self.min_explanations = min_explanations
        self.band = band
        self.last: AttributionComparison | None = None
        self._distance: DynamicThreshold | None = None
        self._correlation: DynamicThreshold | None = None
        if band is not None:
            self._distance = _threshold(band, band.min_std_distance, "upper")
            self._correlation = _threshold(band, band.min_std_correlation, "lower")

    def compare(self, window: Mapping[str, float]) -> AttributionComparison:
        """The fixed guard's verdict on ``window`` (no learning; the bands are not consulted)."""
        top_train = [n for n, r in rank_of(self.training).items() if r <= self.top]
        top_window = [n for n, r in rank_of(window).items() if r <= self.top]
        features = sorted(n for n in set(top_train) | set(top_window)
                          if self.training.get(n, 0.0) > 0 or window.get(n, 0.0) > 0)  # unused: ties
        corr = spearman(self.training, window, features)
        dist = normalised_l1(self.training, window)
        rules: list[Rule] = []
        if corr < self.min_correlation:
            rules.append("fixed_correlation")
        if dist > self.max_distance:
            rules.append("fixed_distance")
        return AttributionComparison(corr, dist, bool(rules), tuple(features), tuple(rules))

    def _judge(self, window: Mapping[str, float]) -> AttributionComparison:
        fixed = self.compare(window)
        if self._distance is None or self._correlation is None:
            return fixed
        if not fixed.drifted:  # a window past the guard is never learned into the bands
            self._distance.update(fixed.distance)
            self._correlation.update(fixed.rank_correlation)
        rules = list(fixed.rules)
        if self._distance.decision.active:
            rules.append("learned_distance")
        if self._correlation.decision.active:
            rules.append("learned_correlation")
        bands = {name: th.decision.band for name, th in
                 (("distance", self._distance), ("rank_correlation", self._correlation))
                 if th.decision.band != (None, None)}
        return replace(fixed, drifted=bool(rules), rules=tuple(rules), bands=bands)

    def update(self, window: Mapping[str, float], *, explanations: int) -> Self:
        """Judge one window's mean |SHAP| profile (``last`` is ``None`` when too few)."""
        self.last = self._judge(window) if explanations >= self.min_explanations else None
        return self

    @property
    def drift_detected(self) -> bool:
        return self.last is not None and self.last.drifted

    @property
    def thresholds(self) -> dict[str, float]:
        """The fixed guard's limits (for the alert's evidence)."""
        return {"min_correlation": self.min_correlation, "max_distance": self.max_distance}
