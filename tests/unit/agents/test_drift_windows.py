"""The drift process's window bookkeeping: summaries → jobs, and the commit point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition

from glasswatch.agents.drift_windows import DriftWindowBook
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.coords import OffsetRange

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def summary(i: int) -> WindowSummary:
    rng = OffsetRange(topic="preds", partition=0, first=i * 10, last=i * 10 + 9)
    return WindowSummary(model="m", stream="events", start=T0 + timedelta(minutes=i),
                         end=T0 + timedelta(minutes=i + 1), count=10, model_version="1", offsets=(rng,))


def test_every_period_of_summaries_is_a_job_that_holds_the_commit_point() -> None:
    book = DriftWindowBook(lambda _model: (2, None, 1))
    tp = TopicPartition("w", 0)
    assert book.add(tp, 100, summary(0)) == []
    assert book.add(tp, 101, None) == []  # not a summary: read, nothing else
    assert book.committable() == {tp: 100}  # the open drift window starts at 100
    assert book.add(tp, 102, summary(1)) == []  # a period is full, but closes at the next summary
    jobs = book.add(tp, 103, summary(2))
    assert [(j.position, j.window.offsets[0].first, j.window.offsets[0].last) for j in jobs] == [(100, 0, 19)]
    assert book.pending == jobs and book.committable() == {tp: 100}  # the job is not done yet
    book.done(jobs[0])
    assert book.committable() == {tp: 103}
    assert book.to_commit() == {tp: 103}
    book.committed_at({tp: 103})
    assert book.to_commit() == {}
