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
from typing import NamedTuple

import numpy as np

from glasswatch.core.summary import WindowSummary
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
    """Event time as integer milliseconds since the epoch (exact, no float rounding)."""
    return (t - EPOCH) // timedelta(milliseconds=1)


@dataclass
class _Pane:
    n_events: int = 0
    n_features: int = 0
    n_predictions: int = 0
    late_accepted: int = 0
    numeric: dict[str, list[float]] = field(default_factory=dict)
    cats: dict[str, dict[str, int]] = field(default_factory=dict)
    times: list[int] = field(default_factory=list)
    offsets: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    model_version: str | None = None


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
        self._watch = None if features is None else frozenset(features)
        self._cat = frozenset(categorical)
        self._panes: dict[int, _Pane] = {}
        self._streams: dict[str, None] = {"events": None}  # ordered set of streams seen
        self._max_t: int | None = None
        self._first_t: int | None = None
        self._frontier = 0  # every window with end <= frontier is closed
        self._ready: list[ClosedWindow] = []  # closed early (see _add), not yet returned
        self.n_late = 0

    @property
    def watermark(self) -> datetime | None:
        return None if self._max_t is None else EPOCH + timedelta(milliseconds=self._max_t - self._lateness)

    def is_late(self, event_time: datetime) -> bool:
        """Whether an event at ``event_time`` would be rejected (all its windows closed)."""
        t = to_millis(event_time)
        if self._max_t is None:
            return False
        frontier = ((self._max_t - self._lateness) // self._hop) * self._hop
        return (t // self._hop) * self._hop + self._size <= frontier

    def update(self, rec: Located, extra: Mapping[str, float | None] | None = None) -> WindowAggregator:
        """Add one event; ``extra`` adds per-event values to other streams (e.g. anomaly flags)."""
        self._add(rec, extra)
        return self

    def update_many(self, records: Sequence[Located]) -> WindowOutput:
        late: list[Located] = []
        for rec in records:
            if not self._add(rec, None):
                late.append(rec)
        return WindowOutput(self.flush(), late)

    def _add(self, rec: Located, extra: Mapping[str, float | None] | None) -> bool:
        ev = rec.event
        if isinstance(ev, LabelEvent):
            return True
        t = to_millis(ev.event_time)
        ps = (t // self._hop) * self._hop
        if self._max_t is None:
            self._max_t = self._first_t = t
            self._frontier = ((t - self._lateness) // self._hop) * self._hop
        elif ps + self._size <= ((self._max_t - self._lateness) // self._hop) * self._hop:
            self.n_late += 1
            return False
        elif ps + self._hop <= self._virtual_frontier() and self._frontier < self._virtual_frontier():
            # hopping: some windows of this out-of-order event are already past the watermark;
            # close them now so batch boundaries never change what a window contains
            self._ready.extend(self._close_until(self._virtual_frontier()))
        pane = self._panes.get(ps)
        if pane is None:
            pane = self._panes[ps] = _Pane()
        if t < self._max_t:
            pane.late_accepted += 1
        else:
            self._max_t = t
        pane.n_events += 1
        pane.times.append(t)
        key = (rec.topic, rec.partition)
        r = pane.offsets.get(key)
        if r is None:
            pane.offsets[key] = [rec.offset, rec.offset]
        elif rec.offset < r[0]:
            r[0] = rec.offset
        elif rec.offset > r[1]:
            r[1] = rec.offset
        numeric, streams = pane.numeric, self._streams
        if ev.features is not None:
            pane.n_features += 1
            watch, cat = self._watch, self._cat
            for name, v in ev.features.items():
                if watch is not None and name not in watch:
                    continue
                s = "feature:" + name
                if s not in streams:
                    streams[s] = None
                self._value(pane, s, v, name in cat)
        if isinstance(ev, PredictionEvent):
            pane.n_predictions += 1
            pane.model_version = ev.model_version
            if "prediction" not in streams:
                streams["prediction"] = None
            self._value(pane, "prediction", ev.prediction, False)
            if ev.latency_ms is not None:
                if "latency" not in streams:
                    streams["latency"] = None
                numeric.setdefault("latency", []).append(ev.latency_ms)
        for s, v in (extra or {}).items():
            if s not in streams:
                streams[s] = None
            if v is not None:
                numeric.setdefault(s, []).append(v)
        return True

    @staticmethod
    def _value(pane: _Pane, stream: str, v: object, categorical: bool) -> None:
        if v is None:
            return
        if isinstance(v, str) or categorical:
            counts = pane.cats.setdefault(stream, {})
            k = str(v)
            counts[k] = counts.get(k, 0) + 1
        else:
            pane.numeric.setdefault(stream, []).append(float(v))  # type: ignore[arg-type]

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
                r = offs.setdefault(k, [a, b])
                r[0], r[1] = min(r[0], a), max(r[1], b)
        offsets = tuple(
            OffsetRange(topic=k[0], partition=k[1], first=a, last=b) for k, (a, b) in sorted(offs.items())
        )
        version = next((p.model_version for p in reversed(panes) if p.model_version), None)
        late = sum(p.late_accepted for p in panes)
        n_feat = sum(p.n_features for p in panes)
        n_pred = sum(p.n_predictions for p in panes)
        summaries: dict[str, WindowSummary] = {}
        for s in self._streams:
            values = [v for p in panes for v in p.numeric.get(s, ())]
            cats: dict[str, int] = {}
            for p in panes:
                for c, n in p.cats.get(s, {}).items():
                    cats[c] = cats.get(c, 0) + n
            n_cat = sum(cats.values())
            if s == "events":
                times = np.sort(np.fromiter((t for p in panes for t in p.times), dtype=np.int64))
                values = list(np.diff(times) / 1000.0) if len(times) > 1 else []
                count, missing = len(times), 0
            elif s.startswith("feature:"):
                count, missing = n_feat, max(n_feat - len(values) - n_cat, 0)
            elif s in ("prediction", "latency"):
                count, missing = n_pred, max(n_pred - len(values) - n_cat, 0)
            else:
                count, missing = len(values), 0
            summaries[s] = self._summary(s, start_dt, end_dt, count, missing, late, values, cats, n_cat)
            summaries[s] = summaries[s].model_copy(update={"offsets": offsets, "model_version": version})
        return ClosedWindow(start_dt, end_dt, summaries, offsets, version)

    def _summary(
        self, stream: str, start: datetime, end: datetime, count: int, missing: int, late: int,
        values: list[float], cats: dict[str, int], n_cat: int,
    ) -> WindowSummary:
        stats: dict[str, float] = {}
        if values:
            a = np.asarray(values, dtype=np.float64)
            q = np.quantile(a, (0.05, 0.5, 0.95))
            stats = {
                "mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
                "min": float(a.min()), "max": float(a.max()),
                "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2]),
            }
        freqs = {c: n / n_cat for c, n in sorted(cats.items())} if n_cat else {}
        return WindowSummary(
            model=self.model, stream=stream, start=start, end=end, count=count, missing=missing,
            late_accepted=late, categories=freqs, **stats,
        )
