"""Attribution drift on the loss: a feature that helped the model at training time stopped helping.

:class:`LossProfile` keeps, per feature, the running mean and standard error of the signed loss
contributions (:mod:`glasswatch.explain.loss`) it is fed: the training-time profile (labelled
reference rows) and each event-time window of labelled production events alike.


:class:`LossAttributionDrift` judges a window against the training profile. The rule, per
feature ``f`` with training mean ``m_t < 0`` (it lowered the loss: the model relies on it):

* the window keeps less than ``kept_help`` of that help: ``m_w > kept_help * m_t`` (default
  0.5; ``kept_help = 0`` asks for the feature to *hurt*, ``m_w > 0``), and
* ``z = (m_w - m_t) / sqrt(se_w² + se_t²) > z`` (default 4; one-sided, both standard errors),

on windows of at least ``min_labelled`` labelled events (default 30; fewer: not judged). The
window is drifted when some feature turned; :attr:`LossComparison.turned` names them (largest
``z`` first) with both means and whether the feature now hurts (``m_w > 0``). A feature absent
from the training profile is never judged.

Why not "turns positive" alone: when the target comes to depend on another feature, one
independent of ``f``, ``f``'s expected loss contribution goes to 0, not above it (the loss
with ``f``'s own value and with a background value have the same expectation), so a
``m_w > 0`` rule fires on about half such windows; it turns positive when the relation
reverses. Losing half the help is what a moved concept reliably shows, and the z test keeps
the small, noisy features of the profile quiet.

Examples
--------
>>> train = LossProfile()
>>> for i in range(200):
...     _ = train.update({"a": -0.5 + 0.1 * (i % 3), "b": -0.01 * (i % 2)})
>>> d = LossAttributionDrift(train)
>>> clean = LossProfile()
>>> for i in range(40):
...     _ = clean.update({"a": -0.45 + 0.1 * (i % 3), "b": -0.01 * (i % 2)})
>>> d.update(clean).drift_detected
False
>>> turned = LossProfile()
>>> for i in range(40):
...     _ = turned.update({"a": 0.3 + 0.1 * (i % 3), "b": -0.01 * (i % 2)})
>>> d.update(turned).drift_detected, [t.feature for t in d.last.turned]
(True, ['a'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

__all__ = ["LossAttributionDrift", "LossComparison", "LossProfile", "TurnedFeature"]


class LossProfile:
    """Running mean and standard error of each feature's signed loss contribution (Welford).

    >>> p = LossProfile().update({"a": -1.0}).update({"a": -3.0})
    >>> p.count, p.mean, p.std_error
    (2, {'a': -2.0}, {'a': 1.0})
    """

    def __init__(self) -> None:
        self.count = 0
        self._mean: dict[str, float] = {}
        self._m2: dict[str, float] = {}
        self._n: dict[str, int] = {}

    def update(self, contributions: Mapping[str, float]) -> Self:
        self.count += 1
        for name, value in contributions.items():
            n = self._n.get(name, 0) + 1
            mean = self._mean.get(name, 0.0)
            delta = value - mean
            mean += delta / n
            self._m2[name] = self._m2.get(name, 0.0) + delta * (value - mean)
            self._mean[name], self._n[name] = mean, n
        return self

    @property
    def mean(self) -> dict[str, float]:
        """Mean signed contribution per feature (by name)."""
        return {k: round(self._mean[k], 12) for k in sorted(self._mean)}

    @property
    def std_error(self) -> dict[str, float]:
        """Standard error of each mean (sample std / sqrt(n); 0 for a single value)."""
        return {k: round(math.sqrt(self._m2[k] / (n - 1) / n), 12) if (n := self._n[k]) > 1 else 0.0
                for k in sorted(self._mean)}


@dataclass(frozen=True)
class TurnedFeature:
    feature: str
    training_mean: float
    window_mean: float
    z: float

    @property
    def hurts(self) -> bool:
        """The feature now raises the loss on average (not only stopped lowering it)."""
        return self.window_mean > 0


@dataclass(frozen=True)
class LossComparison:
    labelled: int
    turned: tuple[TurnedFeature, ...]
    """Features that helped at training time and lost that help, largest ``z`` first."""

    @property
    def drifted(self) -> bool:
        return bool(self.turned)


class LossAttributionDrift:
    """Judges window loss profiles against the training one (see the module docstring)."""

    def __init__(self, training: LossProfile, *, min_labelled: int = 30, kept_help: float = 0.5,
                 z: float = 4.0) -> None:
        self.training = training
        self.min_labelled = min_labelled
        self.kept_help = kept_help
        self.z = z
        self.last: LossComparison | None = None

    def compare(self, window: LossProfile) -> LossComparison:
        t_mean, t_se = self.training.mean, self.training.std_error
        w_mean, w_se = window.mean, window.std_error
        turned = []
        for f, m_t in t_mean.items():
            if m_t >= 0 or f not in w_mean or w_mean[f] <= self.kept_help * m_t:
                continue
            se = math.hypot(w_se[f], t_se[f])
            z = (w_mean[f] - m_t) / se if se > 0 else math.inf
            if z > self.z:
                turned.append(TurnedFeature(f, m_t, w_mean[f], round(min(z, 1e9), 6)))
        turned.sort(key=lambda t: (-t.z, t.feature))
        return LossComparison(window.count, tuple(turned))

    def update(self, window: LossProfile) -> Self:
        """Judge one window (``last`` is ``None`` when it has fewer than ``min_labelled``)."""
        self.last = self.compare(window) if window.count >= self.min_labelled else None
        return self

    @property
    def drift_detected(self) -> bool:
        return self.last is not None and self.last.drifted

    @property
    def thresholds(self) -> dict[str, float]:
        """The rule's parameters (for the alert's evidence)."""
        return {"kept_help": self.kept_help, "z": self.z, "min_labelled": float(self.min_labelled)}
