"""``WindowSummary``: what one closed event-time window saw for one stream of one model.

A *stream* is one source of values inside a model's events: ``feature:<name>``, ``prediction``,
``latency``, ``events`` (the inter-arrival gaps, whose ``count`` gives the event rate),
``anomaly`` (per-event anomaly flags, ``mean`` is the anomaly rate), and for classifiers that send
class probabilities ``confidence`` (each event's max probability) and ``entropy`` (of each event's
normalised probabilities, in nats). A string prediction is a class label: it fills the
``prediction`` stream's ``categories``, not its numbers. Signals such as
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
>>> from glasswatch.monitor.aggregates import StreamAgg
>>> pane_a, pane_b = StreamAgg(key=1).add(1.0).add(None), StreamAgg(key=2).add(3.0).add("x")
>>> d = describe_aggs([pane_a, pane_b], count=4)
>>> d["missing"], d["mean"], d["p50"], d["categories"]
(1, 2.0, 2.0, {'x': 1.0})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import reduce
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from glasswatch.monitor.aggregates import Part, StreamAgg, quantiles
from glasswatch.schemas.coords import OffsetRange

__all__ = ["WindowSummary", "describe", "describe_aggs", "describe_gaps"]


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
    count: int,
    missing: int = 0,
    parts: Sequence[Part] = (),
    categories: Mapping[str, int] | None = None,
    *,
    mean: float | None = None,
) -> dict[str, Any]:
    """The statistics fields of a :class:`WindowSummary` from one window's pane aggregates.

    ``parts`` are the numbers of each pane (see :mod:`glasswatch.monitor.aggregates`), merged in order:
    count, mean, std, min and max are exact (up to float rounding), the quantiles come from the
    panes' samples (exact while each pane kept all its values). ``categories`` are counts, given
    out as frequencies sorted by name; ``mean`` overrides the merged mean.
    """
    freqs: dict[str, float] = {}
    if categories:
        n_cat = sum(categories.values())
        freqs = {c: n / n_cat for c, n in sorted(categories.items())}
    out: dict[str, Any] = {"count": count, "missing": missing, "categories": freqs}
    if parts:
        total = reduce(Part.merge, parts)
        p05, p50, p95 = quantiles(parts)
        out.update(mean=total.mean, std=total.std, min=total.lo, max=total.hi, p05=p05, p50=p50, p95=p95)
    if mean is not None:
        out["mean"] = mean
    return out


def describe_aggs(aggs: Sequence[StreamAgg | None], count: int | None = None) -> dict[str, Any]:
    """Fields of one stream from its panes' aggregates (``None``: the pane lacked the stream).

    ``count`` counts the events that carried the stream, missing ones included; by default the
    values that were not ``None`` (then nothing is missing).
    """
    parts: list[Part] = []
    cats: dict[str, int] = {}
    present = 0
    for agg in aggs:
        if agg is None:
            continue
        present += agg.present
        if (part := agg.part()) is not None:
            parts.append(part)
        for c, k in agg.categories.items():
            cats[c] = cats.get(c, 0) + k
    count = present if count is None else count
    return describe(count, count - present, parts, cats)


def describe_gaps(panes: Sequence[tuple[int, int, int, StreamAgg | None]]) -> dict[str, Any]:
    """Fields of the ``events`` stream from each pane's (events, first ms, last ms, gaps).

    ``count`` is the number of events and ``mean`` the mean inter-arrival gap in seconds, both
    exact ((last - first) / (count - 1)). std, min, max and quantiles describe the gaps between
    in-order arrivals within panes and across them (exact when events arrive in time order; an
    out-of-order event opens no gap of its own).
    """
    busy = [p for p in panes if p[0]]
    count = sum(p[0] for p in busy)
    if count < 2:
        return describe(count)
    parts: list[Part] = []
    for i, (_, lo, _, gaps) in enumerate(busy):
        if i:
            parts.append(Part.of([(lo - busy[i - 1][2]) / 1000.0]))
        if gaps is not None and (part := gaps.part()) is not None:
            parts.append(part)
    return describe(count, 0, parts, mean=(busy[-1][2] - busy[0][1]) / 1000.0 / (count - 1))
