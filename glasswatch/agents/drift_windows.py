"""The drift process's window bookkeeping: summaries → drift windows → jobs, and what to commit.

Per windows-topic partition a :class:`~glasswatch.drift.window.DriftWindowCloser` gathers the
window summaries into drift windows (every ``period_windows`` monitor windows of a model
version); each closed one becomes a :class:`DriftJob` that remembers the windows-topic offset its
first summary came from. :meth:`DriftWindowBook.committable` is what the consumer may commit: per
partition the offset below which nothing is needed any more, i.e. the oldest of the next offset
to read, the start of the drift window still open (a restart rebuilds it from the log) and the
start of every job not finished yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import TopicPartition

from glasswatch.drift.window import DriftWindow, DriftWindowCloser
from glasswatch.monitor.summary import WindowSummary

__all__ = ["DriftJob", "DriftWindowBook", "SpecParams"]

SpecParams = Callable[[str], tuple[int, int | None, int]]
"""``model → (period_windows, max_rows, min_rows)`` of its drift spec."""


@dataclass
class DriftJob:
    """One closed drift window to run; ``position``: the windows-topic offset it started at."""

    tp: TopicPartition
    position: int | None
    window: DriftWindow


class DriftWindowBook:
    """Drift windows per windows-topic partition, the jobs not finished, and the commit point."""

    def __init__(self, spec_for: SpecParams) -> None:
        self.spec_for = spec_for
        self.closers: dict[TopicPartition, DriftWindowCloser] = {}
        self.seen: dict[TopicPartition, int] = {}
        """Per partition, the offset after the last record read."""
        self.committed: dict[TopicPartition, int] = {}
        self.pending: list[DriftJob] = []
        """Jobs handed out and not :meth:`done` yet."""

    def add(self, tp: TopicPartition, offset: int, summary: WindowSummary | None) -> list[DriftJob]:
        """Account for the windows-topic record at ``offset`` (``summary`` ``None``: it was not a
        window summary, only read); returns the jobs of the drift windows it closed."""
        self.seen[tp] = offset + 1
        if summary is None:
            return []
        closer = self.closers.setdefault(tp, DriftWindowCloser(spec_for=self.spec_for))
        closer.update(summary, position=offset)
        jobs = [DriftJob(tp, pos, w) for w, pos in zip(closer.closed, closer.closed_positions, strict=True)]
        self.pending.extend(jobs)
        return jobs

    def done(self, job: DriftJob) -> None:
        """``job`` finished (or failed): it no longer holds the commit point back."""
        self.pending.remove(job)

    def committable(self) -> dict[TopicPartition, int]:
        """Per windows-topic partition, the offset below which nothing is needed any more."""
        out = {}
        for tp, seen in self.seen.items():
            holds = [j.position for j in self.pending if j.tp == tp and j.position is not None]
            closer = self.closers.get(tp)
            if closer is not None and closer.oldest_position is not None:
                holds.append(closer.oldest_position)
            out[tp] = min([seen, *holds])
        return out

    def to_commit(self) -> dict[TopicPartition, int]:
        """The commit points that moved since the last :meth:`committed_at`."""
        return {tp: off for tp, off in self.committable().items() if self.committed.get(tp) != off}

    def committed_at(self, offsets: dict[TopicPartition, int]) -> None:
        """The consumer committed ``offsets``."""
        self.committed.update(offsets)
