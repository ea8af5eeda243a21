"""Gap filling: a hole between the state's last applied offset and a batch is read back first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from glasswatch.kafka.gaps import GapFiller, RecoveredEvent, RecoveredMessage, missing_range


def _ev(topic: str, partition: int, offset: int) -> RecoveredEvent:
    return RecoveredEvent(
        RecoveredMessage(topic, partition, offset, None), f"{topic}{partition}@{offset}".encode()
    )


class _Filler(GapFiller):
    """The Kafka read replaced by a log of what the broker holds (holes where offsets are absent)."""

    def __init__(self, log: dict[tuple[str, int], list[int]]) -> None:
        super().__init__("unused:9092")
        self.log = log
        self.reads: list[tuple[str, int, int, int]] = []

    async def _read(self, topic: str, partition: int, first: int, last: int) -> list[RecoveredEvent]:
        self.reads.append((topic, partition, first, last))
        return [_ev(topic, partition, o) for o in self.log[(topic, partition)] if first <= o <= last]


@pytest.mark.parametrize(
    ("last", "offsets", "hole"),
    [
        (5, [7, 8], (6, 6)),
        (5, [6, 7], None),
        (-1, [9], None),
        (5, [3, 4, 5], None),
        (5, [4, 5, 9], (6, 8)),
        (0, [100], (1, 99)),
    ],
)
def test_missing_range(last: int, offsets: list[int], hole: tuple[int, int] | None) -> None:
    assert missing_range(last, offsets) == hole


def test_the_hole_of_each_partition_goes_before_its_first_event_and_the_rest_keeps_its_order() -> None:
    filler = _Filler({("p", 0): list(range(20)), ("l", 0): [0, 1, 2, 4, 5]})  # l: offset 3 is a marker
    batch = [_ev("p", 0, 9), _ev("l", 0, 5), _ev("p", 0, 10)]
    applied = {("p", 0): 6, ("l", 0): 2}
    out = asyncio.run(filler.fill_batch(batch, lambda t, p: applied[(t, p)]))
    assert [(e.message.topic, e.message.offset) for e in out] == [
        ("p", 7),
        ("p", 8),
        ("p", 9),
        ("l", 4),
        ("l", 5),
        ("p", 10),
    ]
    assert sorted(filler.reads) == [("l", 0, 3, 4), ("p", 0, 7, 8)]
    assert (filler.gaps, filler.recovered) == (2, 3)


def test_no_hole_no_read() -> None:
    filler = _Filler({})
    batch: list[Any] = [_ev("p", 0, 4), _ev("p", 0, 5)]
    assert asyncio.run(filler.fill_batch(batch, lambda _t, _p: 3)) == batch
    assert asyncio.run(filler.fill_batch(batch, lambda _t, _p: -1)) == batch  # a fresh state: no hole
    assert asyncio.run(filler.fill([], 3)) == []
    assert filler.reads == [] and filler.gaps == 0


def test_an_empty_hole_adds_nothing_but_is_counted() -> None:
    filler = _Filler({("p", 0): [0, 1, 4]})  # 2 and 3: transaction markers, or deleted by retention
    batch = [_ev("p", 0, 4)]
    assert asyncio.run(filler.fill(batch, 1)) == batch
    assert (filler.gaps, filler.recovered) == (1, 0)
