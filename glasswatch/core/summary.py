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
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from glasswatch.schemas.alert import OffsetRange

__all__ = ["WindowSummary"]


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
