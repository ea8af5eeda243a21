"""Attribution profiles: mean |SHAP| (and mean signed SHAP) per feature, and the ranking.

A profile summarises many local explanations: how much the model relied on each feature (mean
|SHAP|) and in which direction (mean SHAP). Rank 1 is the feature relied on most; ties are
broken by name so the ranking is deterministic.

Examples
--------
>>> p = AttributionProfile().update({"a": 0.3, "b": -0.1}).update({"a": -0.1, "b": -0.3})
>>> p.count, p.mean_abs, p.rank, p.mean_signed["b"]
(2, {'a': 0.2, 'b': 0.2}, {'a': 1, 'b': 2}, -0.2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Self

__all__ = ["AttributionProfile", "rank_of", "window_start"]


def window_start(t: datetime, window: timedelta) -> datetime:
    """The start of the tumbling event-time window of width ``window`` holding ``t`` (UTC).

    >>> window_start(datetime(2026, 1, 1, 0, 7, 30, tzinfo=UTC), timedelta(minutes=5)).isoformat()
    '2026-01-01T00:05:00+00:00'
    """
    step = window.total_seconds()
    return datetime.fromtimestamp(math.floor(t.timestamp() / step) * step, tz=UTC)


def rank_of(mean_abs: Mapping[str, float]) -> dict[str, int]:
    """1-based rank of each feature, largest value first, ties by name.

    >>> rank_of({"x": 0.1, "y": 0.5, "z": 0.1})
    {'y': 1, 'x': 2, 'z': 3}
    """
    ordered = sorted(mean_abs.items(), key=lambda kv: (-kv[1], kv[0]))
    return {name: i for i, (name, _) in enumerate(ordered, start=1)}


class AttributionProfile:
    """Running mean |SHAP| and mean SHAP per feature over the explanations seen."""

    def __init__(self) -> None:
        self.count = 0
        self._abs: dict[str, float] = {}
        self._signed: dict[str, float] = {}

    def update(self, attributions: Mapping[str, float]) -> Self:
        self.count += 1
        for name, value in attributions.items():
            self._abs[name] = self._abs.get(name, 0.0) + abs(value)
            self._signed[name] = self._signed.get(name, 0.0) + value
        return self

    @property
    def mean_abs(self) -> dict[str, float]:
        """Mean |SHAP| per feature, largest first (features never seen in an update count 0)."""
        if not self.count:
            return {}
        means = {k: round(v / self.count, 12) for k, v in self._abs.items()}
        return {k: means[k] for k in rank_of(means)}

    @property
    def mean_signed(self) -> dict[str, float]:
        if not self.count:
            return {}
        return {k: round(self._signed[k] / self.count, 12) for k in self.mean_abs}

    @property
    def rank(self) -> dict[str, int]:
        return rank_of(self.mean_abs)
