"""``WindowSummary``: what one closed event-time window saw for one stream of one model.

A *stream* is one source of values inside a model's events: ``feature:<name>``, ``prediction``,
``latency`` or ``events`` (the inter-arrival gaps, whose ``count`` gives the event rate) and
``anomaly`` (per-event anomaly flags, ``mean`` is the anomaly rate). Signals such as
``feature:age:mean`` are read off a summary with :meth:`WindowSummary.signal`.

Examples
--------
>>> from datetime import datetime, timezone
>>> s = WindowSummary(model="churn", stream="feature:age",
...                   start=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                   end=datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc),
...                   count=4, missing=1, mean=40.0, std=2.0)
>>> s.missing_rate, s.signal("mean"), s.signal("missing_rate")
(0.25, 40.0, 0.25)
>>> d = describe([1.0, None, 3.0, "x"], count=4)
>>> d["missing"], d["mean"], d["categories"]
(1, 2.0, {'x': 1.0})
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from glasswatch.schemas.alert import OffsetRange

__all__ = ["WindowSummary", "describe"]


class WindowSummary(BaseModel):
    """Frozen summary of one window ``[start, end)`` of one stream (numbers are ``None`` if empty)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    model: str
    stream: str
    start: datetime
    end: datetime
    count: int = Field(default=0, ge=0, description="events that carried this stream (incl. missing)")
    missing: int = Field(default=0, ge=0)
    late_accepted: int = Field(default=0, ge=0, description="out-of-order events still inside lateness")
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    p05: float | None = None
    p50: float | None = None
    p95: float | None = None
    categories: dict[str, float] = Field(default_factory=dict, description="category -> frequency")
    model_version: str | None = None
    offsets: tuple[OffsetRange, ...] = ()

    @property
    def missing_rate(self) -> float:
        return self.missing / self.count if self.count else 0.0

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def signal(self, stat: str) -> float | None:
        """The value of one statistic: a field name, ``missing_rate``, ``rate`` (events/s) or ``count``."""
        if stat == "missing_rate":
            return self.missing_rate if self.count else None
        if stat == "rate":
            return self.count / self.seconds
        if stat == "count":
            return float(self.count)
        value = getattr(self, stat, None)
        return value if isinstance(value, float) else None


def describe(
    values: Sequence[object] | np.ndarray, count: int, *, categorical: bool = False
) -> dict[str, Any]:
    """The statistics fields of a :class:`WindowSummary` from one window's raw values.

    ``values`` holds numbers, category strings and ``None`` (missing), or is already a float
    array. Numbers are described exactly (numpy, quantiles by linear interpolation); categories by
    their frequencies; ``categorical`` turns numbers into categories too.
    """
    freqs: dict[str, float] = {}
    missing = 0
    if isinstance(values, np.ndarray):
        numeric = values
    else:
        try:
            if categorical:
                raise ValueError
            a = np.array(values, dtype=np.float64)  # None -> nan (events never carry nan)
            present = ~np.isnan(a)
            numeric = a[present]
            missing = len(values) - int(present.sum())
        except (ValueError, TypeError):
            nums: list[float] = []
            cats: dict[str, int] = {}
            for v in values:
                if v is None:
                    missing += 1
                elif isinstance(v, str) or categorical:
                    cats[str(v)] = cats.get(str(v), 0) + 1
                else:
                    nums.append(float(v))  # type: ignore[arg-type]
            numeric = np.asarray(nums, dtype=np.float64)
            n_cat = sum(cats.values())
            freqs = {c: n / n_cat for c, n in sorted(cats.items())}
    out: dict[str, Any] = {"count": count, "missing": missing, "categories": freqs}
    if len(numeric):
        q = np.quantile(numeric, (0.05, 0.5, 0.95))
        out.update(
            mean=float(numeric.mean()),
            std=float(numeric.std(ddof=1)) if len(numeric) > 1 else 0.0,
            min=float(numeric.min()),
            max=float(numeric.max()),
            p05=float(q[0]),
            p50=float(q[1]),
            p95=float(q[2]),
        )
    return out
