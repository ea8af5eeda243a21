"""Which alert offsets the router may commit: a message is settled once every route it matched
had its notification delivered, refused for good or dropped by a stage.

Examples
--------
>>> from glasswatch.schemas.coords import Coord
>>> offsets = PendingOffsets()
>>> offsets.see(Coord("alerts", 0, 7), routes=2), offsets.see(Coord("alerts", 0, 7), routes=2)
(True, False)
>>> offsets.committable()
{('alerts', 0): 7}
>>> offsets.release([Coord("alerts", 0, 7)]).release([Coord("alerts", 0, 7)]).committable()
{('alerts', 0): 8}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Self

from glasswatch.schemas.coords import Coord

__all__ = ["PartitionOffsets", "PendingOffsets"]


@dataclass
class PartitionOffsets:
    pending: dict[int, int] = field(default_factory=dict)
    """offset → routes still owing an outcome."""
    max_seen: int = -1


class PendingOffsets:
    """Offsets still owed an outcome, per ``(topic, partition)``; see the module docstring."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], PartitionOffsets] = {}

    def see(self, coord: Coord, routes: int) -> bool:
        """Note the message at ``coord`` matching ``routes`` routes; False for a redelivery of a
        message still pending (it is counted once)."""
        offs = self.partitions.setdefault((coord.topic, coord.partition), PartitionOffsets())
        offs.max_seen = max(offs.max_seen, coord.offset)
        if coord.offset in offs.pending:
            return False
        if routes:
            offs.pending[coord.offset] = routes
        return True

    def release(self, coords: Iterable[Coord]) -> Self:
        """One route of each message at ``coords`` is settled."""
        for c in coords:
            offs = self.partitions.get((c.topic, c.partition))
            if offs is None or c.offset not in offs.pending:
                continue
            offs.pending[c.offset] -= 1
            if offs.pending[c.offset] <= 0:
                del offs.pending[c.offset]
        return self

    def committable(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition): the next offset to commit (everything before it is settled)."""
        return {
            tp: min((o for o, left in offs.pending.items() if left > 0), default=offs.max_seen + 1)
            for tp, offs in self.partitions.items()
        }
