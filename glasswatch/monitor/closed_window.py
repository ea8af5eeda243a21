"""A closed window: its panes' aggregates merged into one summary per stream.

When the watermark passes a window's end, :class:`~glasswatch.monitor.windows.WindowAggregator`
hands the window's panes (:class:`~glasswatch.monitor.aggregates.Pane`) to :func:`close_window`.
It merges their Kafka offsets into one :class:`~glasswatch.schemas.coords.OffsetRange` per source
partition, takes the model version of the latest pane that saw one, and builds one
:class:`~glasswatch.monitor.summary.WindowSummary` for every stream the aggregator has seen so far
(``streams``, an ordered set it extends with the streams these panes add): a feature that stopped
coming still reports, every row missing it. The ``confidence`` and ``entropy`` streams appear once
an event carried class probabilities; their ``count`` is the events that did (none missing).

A summary that does not validate (an aggregate overflowed to ``inf``) is *degraded* rather than
lost: it is rebuilt without its non-finite numbers (``None`` instead), or with none of its
statistics at all, and ``on_degraded`` is told (the aggregator counts and logs it).

Examples
--------
>>> from glasswatch.monitor.aggregates import Pane
>>> pane = Pane(start=0, seed=0)
>>> for t, x in [(0, 1.0), (400, 3.0), (900, 8.0)]:
...     pane.add_time(t)
...     pane.add_features({"x": x}, None, frozenset())
...     pane.add_offset("predictions", 0, 10 + t // 100)
>>> streams = {"events": None, "feature:gone": None}
>>> w = close_window("m", 0, 1000, [pane], streams)
>>> w.end.isoformat(), [(o.partition, o.first, o.last) for o in w.offsets]
('1970-01-01T00:00:01+00:00', [(0, 10, 19)])
>>> w.summaries["feature:x"].mean, w.summaries["events"].count, w.summaries["feature:gone"].missing
(4.0, 3, 3)
>>> list(streams)
['events', 'feature:gone', 'feature:x']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from glasswatch.monitor.aggregates import Pane
from glasswatch.monitor.summary import WindowSummary, describe_aggs, describe_gaps
from glasswatch.schemas.coords import Coord, OffsetRange
from glasswatch.schemas.events import EPOCH

__all__ = ["ClosedWindow", "close_window"]


@dataclass(frozen=True)
class ClosedWindow:
    """One closed window ``[start, end)``: a summary per stream, the offsets it covers."""

    start: datetime
    end: datetime
    summaries: dict[str, WindowSummary]
    offsets: tuple[OffsetRange, ...]
    model_version: str | None


def _not_told(stream: str, exc: ValueError) -> None:
    return None


def close_window(
    model: str,
    start: int,
    end: int,
    panes: Sequence[Pane],
    streams: dict[str, None],
    on_degraded: Callable[[str, ValueError], None] = _not_told,
) -> ClosedWindow:
    """The window ``[start, end)`` (epoch milliseconds) of ``model`` made of ``panes``.

    ``streams`` (ordered, kept by the caller) gains the streams these panes add; every stream in it
    gets a summary. ``on_degraded(stream, error)`` is called for each degraded summary."""
    start_dt = EPOCH + timedelta(milliseconds=start)
    end_dt = EPOCH + timedelta(milliseconds=end)
    offs: dict[tuple[str, int], list[int]] = {}
    for p in panes:
        for k, (a, b) in p.offsets.items():
            o = offs.setdefault(k, [a, b])
            o[0], o[1] = min(o[0], a), max(o[1], b)
    offsets = tuple(OffsetRange.of(Coord(t, p, a), last=b) for (t, p), (a, b) in sorted(offs.items()))
    version = next((p.version for p in reversed(panes) if p.version is not None), None)
    for name in dict.fromkeys(chain.from_iterable(p.feats for p in panes)):
        streams.setdefault("feature:" + name, None)
    n_preds = sum(p.preds for p in panes)
    if n_preds:
        streams.setdefault("prediction", None)
        if any(p.lat is not None for p in panes):
            streams.setdefault("latency", None)
        if any(p.conf is not None for p in panes):
            streams.setdefault("confidence", None)
        if any(p.ent is not None for p in panes):
            streams.setdefault("entropy", None)
    for p in panes:
        for key in p.extras:
            streams.setdefault(key, None)
    common = {
        "model": model,
        "model_version": version,
        "offsets": offsets,
        "start": start_dt,
        "end": end_dt,
        "late_accepted": sum(p.late_accepted for p in panes),
    }
    summaries: dict[str, WindowSummary] = {}
    for s in streams:
        if s == "events":
            stats = describe_gaps([(p.events, p.t_lo, p.t_hi, p.gaps) for p in panes])
        elif s.startswith("feature:"):
            name = s[8:]
            stats = describe_aggs([p.feats.get(name) for p in panes], sum(p.rows for p in panes))
        elif s == "prediction":
            stats = describe_aggs([p.pred for p in panes], n_preds)
        elif s == "latency":
            stats = describe_aggs([p.lat for p in panes], n_preds)
        elif s == "confidence":
            stats = describe_aggs([p.conf for p in panes])
        elif s == "entropy":
            stats = describe_aggs([p.ent for p in panes])
        else:
            stats = describe_aggs([p.extras.get(s) for p in panes])
        summaries[s] = _summary(s, common, stats, on_degraded)
    return ClosedWindow(start_dt, end_dt, summaries, offsets, version)


def _summary(
    stream: str, common: dict[str, Any], stats: dict[str, Any], on_degraded: Callable[[str, ValueError], None]
) -> WindowSummary:
    """The stream's summary; one that does not validate (an aggregate overflowed to inf) is
    degraded: its non-finite numbers become None, and ``on_degraded`` is told."""
    try:
        return WindowSummary(stream=stream, **common, **stats)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        on_degraded(stream, exc)
    clean = {k: _finite_or_none(v) for k, v in stats.items()}
    try:
        return WindowSummary(stream=stream, **common, **clean)
    except ValueError:
        return WindowSummary(stream=stream, **common)


def _finite_or_none(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: x for k, x in v.items() if not (isinstance(x, float) and not math.isfinite(x))}
    return v
