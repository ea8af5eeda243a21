"""Event-time tumbling and hopping windows with a watermark and allowed lateness.

Events arrive with their Kafka coordinates (:class:`Located`). Each event lands in one *pane*
(a ``hop``-long slice of event time); a window of ``size`` is the union of ``size / hop`` panes,
so an event is handled once however many hopping windows contain it. The *watermark* is the
largest event time seen minus the allowed lateness; a window ``[start, end)`` closes once the
watermark reaches ``end`` and yields one :class:`~glasswatch.core.summary.WindowSummary` per
stream. An out-of-order event whose window is still open is accepted and counted
(``late_accepted``); one whose windows have all closed is returned as *late* (the caller sends it
to the dead-letter topic with reason ``late``). Empty windows between events are closed too (an
event-rate drop must show), at most ``max_empty_windows`` at once. Label events are ignored.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.schemas.events import PredictionEvent
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> def ev(i, sec):
...     e = PredictionEvent(model="m", model_version="1", prediction_id=f"p{i}",
...                         event_time=t0 + timedelta(seconds=sec), features={"x": float(i)})
...     return Located(e, "predictions", 0, i)
>>> w = WindowAggregator("m", size_seconds=10, allowed_lateness_seconds=5)
>>> out = w.update_many([ev(0, 1), ev(1, 5), ev(2, 13), ev(3, 9), ev(4, 30), ev(5, 3)])
>>> [(c.start.second, c.summaries["feature:x"].count, c.summaries["feature:x"].mean) for c in out.closed]
[(0, 3, 1.3333333333333333), (10, 1, 2.0)]
>>> [r.offset for r in out.late], out.closed[0].summaries["events"].late_accepted
([5], 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from glasswatch.core.summary import WindowSummary, describe
from glasswatch.schemas.alert import OffsetRange
from glasswatch.schemas.events import FeatureEvent, LabelEvent, PredictionEvent

__all__ = ["ClosedWindow", "Located", "WindowAggregator", "WindowOutput", "to_millis"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Located(NamedTuple):
    """An event with the Kafka coordinates it was read from."""

    event: PredictionEvent | FeatureEvent | LabelEvent
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class ClosedWindow:
    start: datetime
    end: datetime
    summaries: dict[str, WindowSummary]
    offsets: tuple[OffsetRange, ...]
    model_version: str | None


class WindowOutput(NamedTuple):
    closed: list[ClosedWindow]
    late: list[Located]


def to_millis(t: datetime) -> int:
    """Event time as integer milliseconds since the epoch (exact to the microsecond, then floored)."""
    return round(t.timestamp() * 1_000_000) // 1000


@dataclass
class _Pane:
    """What one ``hop``-long slice of event time accepted, kept compact; statistics come at close.

    Feature dicts are kept by reference (no copy per event); predictions, latencies and times are
    plain lists; offsets are min/max per (topic, partition). Pickling a monitor costs about
    150 bytes per buffered event.
    """

    rows: list[Mapping[str, object]] = field(default_factory=list)
    preds: list[object] = field(default_factory=list)
    lats: list[float | None] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    extras: list[Mapping[str, float | None] | None] = field(default_factory=list)
    offsets: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    version: str | None = None
    late_accepted: int = 0


class WindowAggregator:
    """Windows of one model's events; constructor arguments are kept verbatim."""

    def __init__(
        self,
        model: str,
        size_seconds: float = 60.0,
        hop_seconds: float | None = None,
        allowed_lateness_seconds: float = 0.0,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        max_empty_windows: int = 1000,
    ) -> None:
        self.model = model
        self.size_seconds = size_seconds
        self.hop_seconds = hop_seconds
        self.allowed_lateness_seconds = allowed_lateness_seconds
        self.features = features
        self.categorical = categorical
        self.max_empty_windows = max_empty_windows
        self._size = round(size_seconds * 1000)
        self._hop = round((hop_seconds or size_seconds) * 1000)
        self._lateness = round(allowed_lateness_seconds * 1000)
        self._panes: dict[int, _Pane] = {}
        self._streams: dict[str, None] = {"events": None}  # ordered set of streams seen so far
        self._max_t: int | None = None
        self._first_t: int | None = None
        self._frontier = 0  # every window with end <= frontier is closed
        self._ready: list[ClosedWindow] = []  # closed early (see accept), not yet returned
        self.n_late = 0

    @property
    def watermark(self) -> datetime | None:
        return None if self._max_t is None else EPOCH + timedelta(milliseconds=self._max_t - self._lateness)

    @property
    def first_event_time(self) -> datetime | None:
        """Event time of the first accepted event (windows starting before it are partial)."""
        return None if self._first_t is None else EPOCH + timedelta(milliseconds=self._first_t)

    def is_late(self, event_time: datetime) -> bool:
        """Whether an event at ``event_time`` would be rejected (all its windows closed)."""
        return self._late(to_millis(event_time))

    def _late(self, t: int) -> bool:
        if self._max_t is None:
            return False
        return (t // self._hop) * self._hop + self._size <= self._virtual_frontier()

    def update(self, rec: Located, extra: Mapping[str, float | None] | None = None) -> WindowAggregator:
        """Add one event; ``extra`` adds per-event values to other streams (e.g. anomaly flags)."""
        t = self.accept(rec)
        if t is not None:
            self.add(rec, t, extra)
        return self

    def update_many(self, records: Sequence[Located]) -> WindowOutput:
        late: list[Located] = []
        for rec in records:
            t = self.accept(rec)
            if t is None:
                late.append(rec)
            else:
                self.add(rec, t, None)
        return WindowOutput(self.flush(), late)

    def accept(self, rec: Located) -> int | None:
        """Event time in ms if the event is accepted, ``None`` (and counted) if it is late.

        Label events are accepted and ignored by :meth:`add`.
        """
        t = to_millis(rec.event.event_time)
        if self._max_t is None or isinstance(rec.event, LabelEvent):
            return t
        if self._late(t):
            self.n_late += 1
            return None
        vf = self._virtual_frontier()
        if (t // self._hop) * self._hop + self._hop <= vf and self._frontier < vf:
            # hopping: some windows of this out-of-order event are already past the watermark;
            # close them now so batch boundaries never change what a window contains
            self._ready.extend(self._close_until(vf))
        return t

    def add(self, rec: Located, t: int, extra: Mapping[str, float | None] | None = None) -> None:
        """Add an event :meth:`accept` returned ``t`` for."""
        if isinstance(rec.event, LabelEvent):
            return
        if self._max_t is None:
            self._max_t = self._first_t = t
            self._frontier = ((t - self._lateness) // self._hop) * self._hop
        ps = (t // self._hop) * self._hop
        pane = self._panes.get(ps)
        if pane is None:
            pane = self._panes[ps] = _Pane()
        if t < self._max_t:
            pane.late_accepted += 1
        else:
            self._max_t = t
        ev = rec.event
        if ev.features is not None:
            pane.rows.append(ev.features)
        if isinstance(ev, PredictionEvent):
            pane.preds.append(ev.prediction)
            pane.lats.append(ev.latency_ms)
            pane.version = ev.model_version
        pane.times.append(t)
        pane.extras.append(extra)
        key = (rec.topic, rec.partition)
        o = pane.offsets.get(key)
        if o is None:
            pane.offsets[key] = [rec.offset, rec.offset]
        elif rec.offset < o[0]:
            o[0] = rec.offset
        elif rec.offset > o[1]:
            o[1] = rec.offset

    def _virtual_frontier(self) -> int:
        assert self._max_t is not None
        return ((self._max_t - self._lateness) // self._hop) * self._hop

    def advance(self, event_time: datetime) -> list[ClosedWindow]:
        """Move event time forward without an event (idle input), then :meth:`flush`.

        The caller derives ``event_time`` from its own clock; the core never reads one.
        """
        t = to_millis(event_time)
        if self._max_t is not None and t > self._max_t:
            self._max_t = t
        return self.flush()

    def flush(self) -> list[ClosedWindow]:
        """Close every window the watermark has passed, oldest first."""
        if self._max_t is None:
            return []
        ready, self._ready = self._ready, []
        return ready + self._close_until(self._virtual_frontier())

    def _close_until(self, target: int) -> list[ClosedWindow]:
        hop = self._hop
        if target <= self._frontier:
            return []
        ends = range(self._frontier + hop, target + hop, hop)
        if len(ends) > self.max_empty_windows + len(self._panes) * (self._size // hop):
            busy = {ps + k * hop for ps in self._panes for k in range(1, self._size // hop + 1)}
            lo = max(self._frontier + hop, target - (self.max_empty_windows - 1) * hop)
            tail = range(lo, target + hop, hop)
            chosen = sorted({e for e in busy if self._frontier < e <= target} | set(tail))
        else:
            chosen = list(ends)
        first = self._first_t if self._first_t is not None else 0
        closed = []
        for end in chosen:
            panes = [p for s in range(end - self._size, end, hop) if (p := self._panes.get(s)) is not None]
            if panes or end > first:
                closed.append(self._close(end, panes))
        self._frontier = target
        for s in [s for s in self._panes if s + self._size <= target]:
            del self._panes[s]
        return closed

    def _close(self, end: int, panes: list[_Pane]) -> ClosedWindow:
        start_dt = EPOCH + timedelta(milliseconds=end - self._size)
        end_dt = EPOCH + timedelta(milliseconds=end)
        offs: dict[tuple[str, int], list[int]] = {}
        for p in panes:
            for k, (a, b) in p.offsets.items():
                o = offs.setdefault(k, [a, b])
                o[0], o[1] = min(o[0], a), max(o[1], b)
        offsets = tuple(
            OffsetRange(topic=k[0], partition=k[1], first=a, last=b) for k, (a, b) in sorted(offs.items())
        )
        version = next((p.version for p in reversed(panes) if p.version is not None), None)
        rows = [f for p in panes for f in p.rows]
        preds = [v for p in panes for v in p.preds]
        lats = [v for p in panes for v in p.lats]
        streams = self._streams
        for name in dict.fromkeys(chain.from_iterable(rows)):
            if self.features is None or name in self.features:
                streams.setdefault("feature:" + name, None)
        if preds:
            streams.setdefault("prediction", None)
            if any(v is not None for v in lats):
                streams.setdefault("latency", None)
        extras = [x for p in panes for x in p.extras if x]
        for x in extras:
            for key in x:
                streams.setdefault(key, None)
        common = {
            "model_version": version,
            "offsets": offsets,
            "start": start_dt,
            "end": end_dt,
            "late_accepted": sum(p.late_accepted for p in panes),
        }
        summaries: dict[str, WindowSummary] = {}
        for s in streams:
            if s == "events":
                times = np.sort(np.fromiter((t for p in panes for t in p.times), dtype=np.int64))
                gaps = np.diff(times) / 1000.0 if len(times) > 1 else np.empty(0)
                summaries[s] = self._summary(s, common, gaps, len(times))
            elif s.startswith("feature:"):
                name = s[8:]
                values = [f.get(name) for f in rows]
                summaries[s] = self._summary(s, common, values, len(rows), name in self.categorical)
            elif s == "prediction":
                summaries[s] = self._summary(s, common, preds, len(preds))
            elif s == "latency":
                summaries[s] = self._summary(s, common, lats, len(lats))
            else:
                vals = [v for x in extras if (v := x.get(s)) is not None]
                summaries[s] = self._summary(s, common, np.asarray(vals, dtype=np.float64), len(vals))
        return ClosedWindow(start_dt, end_dt, summaries, offsets, version)

    def _summary(
        self, stream: str, common: dict[str, Any], values: Any, count: int, categorical: bool = False
    ) -> WindowSummary:
        stats = describe(values, count, categorical=categorical)
        return WindowSummary(model=self.model, stream=stream, **common, **stats)
