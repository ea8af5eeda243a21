"""Drift windows: spans of monitor windows, defined by the Kafka offsets they cover.

A :class:`DriftWindow` is what the drift job compares with the reference: the rows of one model
version read back from exactly its per-partition :class:`~glasswatch.schemas.coords.OffsetRange`
of the input topics, with event time in ``[start, end)``. Reading the same offsets again gives the
same rows, so every drift result is reproducible by construction (``glasswatch drift rerun``).

:class:`DriftWindowCloser` builds them from the worker's window summaries (the windows topic):
per model it unions the offset ranges of the monitor windows it sees and closes a drift window
once it holds ``period_windows`` monitor windows (event time) or ``max_rows`` rows, when the
first summary of a later monitor window arrives (so every summary of the last window is in).
A drift window with fewer than ``min_rows`` rows stays open; a new model version closes the
open window of the old one (dropped when it is too small: it cannot be compared with the new
version's reference). The closer remembers the windows-topic position of each open window's
first summary (:attr:`DriftWindowCloser.oldest_position`): a consumer commits no further, so a
restart rebuilds the open windows from the log.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.monitor.summary import WindowSummary
>>> from glasswatch.schemas.coords import OffsetRange
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> def summary(i):
...     rng = OffsetRange(topic="preds", partition=0, first=100 * i, last=100 * i + 99)
...     return WindowSummary(model="m", stream="events", start=t0 + timedelta(minutes=i),
...                          end=t0 + timedelta(minutes=i + 1), count=100, model_version="1",
...                          offsets=(rng,))
>>> closer = DriftWindowCloser(period_windows=3, min_rows=1)
>>> [len(closer.update(summary(i), position=i).closed) for i in range(4)]
[0, 0, 0, 1]
>>> w = closer.closed[0]
>>> w.rows, w.windows, [(o.first, o.last) for o in w.offsets], w.end - w.start
(300, 3, [(0, 299)], datetime.timedelta(seconds=180))
>>> closer.oldest_position
3
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.coords import OffsetRange

__all__ = ["DriftWindow", "DriftWindowCloser", "format_offsets", "parse_offsets"]


def format_offsets(offsets: tuple[OffsetRange, ...]) -> str:
    """``topic:partition:first-last`` joined by ``,`` (the CLI's ``--offsets`` form)."""
    return ",".join(f"{o.topic}:{o.partition}:{o.first}-{o.last}" for o in offsets)


def parse_offsets(text: str) -> tuple[OffsetRange, ...]:
    """The inverse of :func:`format_offsets` (topic names may contain ``:``)."""
    out = []
    for item in filter(None, text.split(",")):
        topic, partition, span = item.rsplit(":", 2)
        first, last = span.split("-")
        out.append(OffsetRange(topic=topic, partition=int(partition), first=int(first), last=int(last)))
    return tuple(out)


class DriftWindow(BaseModel):
    """One drift window of one model version (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    model_version: str | None
    start: datetime
    end: datetime
    offsets: tuple[OffsetRange, ...]
    windows: int = Field(default=0, ge=0, description="monitor windows it spans")
    rows: int = Field(default=0, ge=0, description="events the monitor windows counted")

    @property
    def id(self) -> str:
        """Stable identity: model, version and offsets (16 hex chars)."""
        text = f"{self.model}\x1f{self.model_version}\x1f{format_offsets(self.offsets)}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def source_uri(self) -> str:
        """Where the rows are: ``kafka:<topic>:<partition>:<first>-<last>,...``."""
        return "kafka:" + format_offsets(self.offsets)

    def replay_command(self) -> str:
        """The ``glasswatch replay`` of the window's offsets (the monitors' view of the rows)."""
        return f"glasswatch replay --model {self.model}" + "".join(
            f" --offsets {o.topic}:{o.partition}:{o.first}-{o.last}" for o in self.offsets
        )


@dataclass
class _Open:
    version: str | None
    position: int | None
    start: datetime
    end: datetime
    ranges: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    rows: dict[tuple[datetime, datetime], int] = field(default_factory=dict)

    def add(self, s: WindowSummary) -> None:
        key = (s.start, s.end)
        self.rows[key] = max(self.rows.get(key, 0), s.count)
        self.start, self.end = min(self.start, s.start), max(self.end, s.end)
        for o in s.offsets:
            r = self.ranges.setdefault((o.topic, o.partition), [o.first, o.last])
            r[0], r[1] = min(r[0], o.first), max(r[1], o.last)

    def window(self, model: str) -> DriftWindow:
        offsets = tuple(
            OffsetRange(topic=t, partition=p, first=a, last=b)
            for (t, p), (a, b) in sorted(self.ranges.items())
        )
        return DriftWindow(model=model, model_version=self.version, start=self.start, end=self.end,
                           offsets=offsets, windows=len(self.rows), rows=sum(self.rows.values()))


class DriftWindowCloser:
    """Turns window summaries into closed :class:`DriftWindow` s (river-shaped: ``update`` returns
    self; :attr:`closed` holds what the last update closed). ``spec_for(model)`` may give each model
    its own ``(period_windows, max_rows, min_rows)``; otherwise the constructor's apply."""

    def __init__(
        self,
        period_windows: int = 10,
        max_rows: int | None = None,
        min_rows: int = 100,
        spec_for: Callable[[str], tuple[int, int | None, int]] | None = None,
    ) -> None:
        if period_windows < 1 or min_rows < 1 or (max_rows is not None and max_rows < 1):
            raise ValueError("period_windows, min_rows and max_rows must be >= 1")
        self.period_windows = period_windows
        self.max_rows = max_rows
        self.min_rows = min_rows
        self.spec_for = spec_for
        self._open: dict[str, _Open] = {}
        self._closed: tuple[DriftWindow, ...] = ()
        self._closed_positions: tuple[int | None, ...] = ()
        self.dropped = 0
        """Drift windows dropped: too small when their model version changed."""

    def _params(self, model: str) -> tuple[int, int | None, int]:
        if self.spec_for is not None:
            return self.spec_for(model)
        return self.period_windows, self.max_rows, self.min_rows

    def update(self, summary: WindowSummary, position: int | None = None) -> Self:
        """Account one summary (``position``: its offset in the windows topic)."""
        closed: list[DriftWindow] = []
        positions: list[int | None] = []
        model = summary.model
        cur = self._open.get(model)
        key = (summary.start, summary.end)
        period, max_rows, min_rows = self._params(model)
        if cur is not None and key not in cur.rows:
            enough = len(cur.rows) >= period or (max_rows is not None and sum(cur.rows.values()) >= max_rows)
            rows = sum(cur.rows.values())
            if cur.version != summary.model_version:
                if rows >= min_rows:
                    closed.append(cur.window(model))
                    positions.append(cur.position)
                else:
                    self.dropped += 1
                cur = None
            elif enough and rows >= min_rows:
                closed.append(cur.window(model))
                positions.append(cur.position)
                cur = None
        if cur is None:
            cur = self._open[model] = _Open(summary.model_version, position, summary.start, summary.end)
        cur.add(summary)
        self._closed, self._closed_positions = tuple(closed), tuple(positions)
        return self

    def flush(self, model: str) -> DriftWindow | None:
        """Close ``model``'s open window now, whatever its size (``None`` if none is open)."""
        cur = self._open.pop(model, None)
        return cur.window(model) if cur is not None and cur.rows else None

    @property
    def closed(self) -> tuple[DriftWindow, ...]:
        """The drift windows the last :meth:`update` closed."""
        return self._closed

    @property
    def closed_positions(self) -> tuple[int | None, ...]:
        """Windows-topic position of the first summary of each window in :attr:`closed`."""
        return self._closed_positions

    @property
    def open_models(self) -> tuple[str, ...]:
        return tuple(sorted(self._open))

    @property
    def oldest_position(self) -> int | None:
        """Windows-topic position of the oldest open window's first summary (commit no further)."""
        positions = [o.position for o in self._open.values() if o.position is not None]
        return min(positions) if positions else None
