"""Event-time tumbling and hopping windows with a watermark and allowed lateness.

Events arrive with their Kafka coordinates (:class:`Located`: an event and its
:class:`~glasswatch.schemas.coords.Coord`). Each event lands in one *pane*
(a ``hop``-long slice of event time); a window of ``size`` is the union of ``size / hop`` panes,
so an event is handled once however many hopping windows contain it. The *watermark* is the
largest event time seen minus the allowed lateness; a window ``[start, end)`` closes once the
watermark reaches ``end`` and yields one :class:`~glasswatch.monitor.summary.WindowSummary` per
stream (:func:`~glasswatch.monitor.closed_window.close_window`). An out-of-order event whose
window is still open is accepted and counted (``late_accepted``); one whose windows have all
closed is returned as *late* (the caller sends it to the dead-letter topic with reason ``late``).
Empty windows between events are closed too (an event-rate drop must show), at most
``max_empty_windows`` at once. Label events are ignored. A prediction's class ``probabilities``
feed the ``confidence`` and ``entropy`` streams (see :mod:`glasswatch.monitor.aggregates`).

A pane keeps per-stream mergeable aggregates (:class:`~glasswatch.monitor.aggregates.Pane`), never the
events, so the state's size depends on the open panes and the streams, not on the events per
window; a window merges its panes' aggregates when it closes. Counts, mean, std, min, max,
categories and offsets are exact; quantiles are exact up to
:data:`~glasswatch.monitor.aggregates.CAPACITY` values per pane and stream and sampled beyond (error
bound in :mod:`glasswatch.monitor.aggregates`). ``seed`` seeds the samples.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.schemas.coords import Coord
>>> from glasswatch.schemas.events import PredictionEvent
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> def ev(i, sec):
...     e = PredictionEvent(model="m", model_version="1", prediction_id=f"p{i}",
...                         event_time=t0 + timedelta(seconds=sec), features={"x": float(i)})
...     return Located(e, Coord("predictions", 0, i))
>>> w = WindowAggregator("m", size_seconds=10, allowed_lateness_seconds=5)
>>> out = w.update_many([ev(0, 1), ev(1, 5), ev(2, 13), ev(3, 9), ev(4, 30), ev(5, 3)])
>>> [(c.start.second, c.summaries["feature:x"].count, c.summaries["feature:x"].mean) for c in out.closed]
[(0, 3, 1.3333333333333333), (10, 1, 2.0)]
>>> [r.coord.offset for r in out.late], out.closed[0].summaries["events"].late_accepted
([5], 1)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from glasswatch.monitor.aggregates import Pane
from glasswatch.monitor.closed_window import ClosedWindow, close_window
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import EPOCH, LabelEvent, PredictionEvent, TypedEvent

__all__ = ["Located", "WindowAggregator", "WindowOutput", "to_millis"]

_log = logging.getLogger(__name__)


class Located(NamedTuple):
    """An event with the Kafka coordinates of the message it was read from."""

    event: TypedEvent
    coord: Coord


class WindowOutput(NamedTuple):
    closed: list[ClosedWindow]
    late: list[Located]


def to_millis(t: datetime) -> int:
    """Event time as integer milliseconds since the epoch (exact to the microsecond, then floored)."""
    return round(t.timestamp() * 1_000_000) // 1000


class _Pane:
    """A pane of the earlier snapshot format (events buffered); see ``WindowAggregator.__setstate__``."""


class WindowAggregator:
    """Windows of one model's events; constructor arguments are kept verbatim."""

    n_degraded = 0
    """Window summaries built without their non-finite numbers (see ``_degraded``); a class
    default so that states stored before it existed restore unchanged."""

    def __init__(
        self,
        model: str,
        size_seconds: float = 60.0,
        hop_seconds: float | None = None,
        allowed_lateness_seconds: float = 0.0,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        max_empty_windows: int = 1000,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.size_seconds = size_seconds
        self.hop_seconds = hop_seconds
        self.allowed_lateness_seconds = allowed_lateness_seconds
        self.features = features
        self.categorical = categorical
        self.max_empty_windows = max_empty_windows
        self.seed = seed
        self._categorical = frozenset(categorical)
        self._wanted = None if features is None else frozenset(features)
        self._size = round(size_seconds * 1000)
        self._hop = round((hop_seconds or size_seconds) * 1000)
        self._lateness = round(allowed_lateness_seconds * 1000)
        self._panes: dict[int, Pane] = {}
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
            pane = self._panes[ps] = Pane(ps, self.seed)
        if t < self._max_t:
            pane.late_accepted += 1
        else:
            self._max_t = t
        pane.add_time(t)
        ev = rec.event
        if ev.features is not None:
            pane.add_features(ev.features, self._wanted, self._categorical)
        if isinstance(ev, PredictionEvent):
            pane.add_prediction(ev.prediction, ev.latency_ms, ev.model_version, ev.probabilities)
        if extra:
            pane.add_extra(extra)
        pane.add_offset(*rec.coord)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore; a snapshot of the earlier format (panes buffering events) is folded into aggregates."""
        self.__dict__.update(state)
        if "seed" in state:
            return
        self.seed, self._categorical = 0, frozenset(self.categorical)
        self._wanted = None if self.features is None else frozenset(self.features)
        for ps, old in list(self._panes.items()):
            b = old.__dict__
            pane = self._panes[ps] = Pane(ps, 0, offsets=b["offsets"], late_accepted=b["late_accepted"])
            for t in b["times"]:
                pane.add_time(t)
            for row in b["rows"]:
                pane.add_features(row, self._wanted, self._categorical)
            for pred, lat in zip(b["preds"], b["lats"], strict=True):
                pane.add_prediction(pred, lat, b["version"])
            for extra in b["extras"]:
                if extra:
                    pane.add_extra(extra)

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
                try:
                    window = close_window(
                        self.model, end - self._size, end, panes, self._streams, self._degraded
                    )
                    closed.append(window)
                except Exception as exc:  # a window we cannot summarise is skipped, never a stall
                    self.n_degraded += 1
                    _log.warning("window ending %s of model %s skipped: %s: %s",
                                 end, self.model, type(exc).__name__, exc)  # fmt: skip
        self._frontier = target
        for s in [s for s in self._panes if s + self._size <= target]:
            del self._panes[s]
        return closed

    def _degraded(self, stream: str, exc: ValueError) -> None:
        """A summary built without its non-finite numbers: counted in :attr:`n_degraded`, the
        aggregator's first one logged."""
        self.n_degraded += 1
        if self.n_degraded == 1:
            _log.warning("window summary of %s/%s degraded (non-finite aggregate): %s",
                         self.model, stream, str(exc).splitlines()[0])  # fmt: skip
