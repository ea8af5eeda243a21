"""Kafka coordinates: where a message is (:class:`Coord`) and a run of offsets (:class:`OffsetRange`).

:class:`Coord` is the one coordinate type of the code base: the ingest path tags every event with
one (:class:`~glasswatch.monitor.windows.Located`), a read record carries one
(:class:`~glasswatch.monitor.replay.Message`), and the router tracks the alert messages it still
owes an offset commit by theirs. It is a ``NamedTuple`` because the ingest path makes one per
event: as cheap as a tuple, hashable, ordered and picklable. Its :attr:`Coord.key`
(``"topic:partition"``) names the partition, e.g. the partition-state table's key.

:class:`OffsetRange` (``first`` to ``last`` inclusive of one partition) is what an alert's lineage
and a window summary carry; it is a frozen pydantic model because it is part of those JSON
contracts. Build it from coordinates with :meth:`OffsetRange.of`.

Examples
--------
>>> c = Coord("predictions", 3, 41)
>>> c.key, c.offset
('predictions:3', 41)
>>> r = OffsetRange.of(c, last=57)
>>> r.key, r.first, r.last, r.start == c, r.end
('predictions:3', 41, 57, True, Coord(topic='predictions', partition=3, offset=57))
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Coord", "OffsetRange", "partition_key"]


def partition_key(topic: str, partition: int) -> str:
    """``"topic:partition"``: the name of one partition (:attr:`Coord.key`)."""
    return f"{topic}:{partition}"


class Coord(NamedTuple):
    """The Kafka coordinates of one message: topic, partition, offset."""

    topic: str
    partition: int
    offset: int

    @property
    def key(self) -> str:
        """``"topic:partition"`` (see :func:`partition_key`)."""
        return f"{self.topic}:{self.partition}"


class OffsetRange(BaseModel):
    """Offsets ``first..last`` (inclusive) of one partition: replay them to reproduce a result."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    topic: str
    partition: int = Field(ge=0)
    first: int = Field(ge=0)
    last: int = Field(ge=0)

    @classmethod
    def of(cls, first: Coord, last: int) -> OffsetRange:
        """The range from the message at ``first`` to offset ``last`` of the same partition."""
        return cls(topic=first.topic, partition=first.partition, first=first.offset, last=last)

    @property
    def key(self) -> str:
        """``"topic:partition"`` (see :func:`partition_key`)."""
        return partition_key(self.topic, self.partition)

    @property
    def start(self) -> Coord:
        """The coordinates of the first message."""
        return Coord(self.topic, self.partition, self.first)

    @property
    def end(self) -> Coord:
        """The coordinates of the last message."""
        return Coord(self.topic, self.partition, self.last)
