"""Consumer lag of the worker's input partitions, for ``glasswatch_consumer_lag``.

``lag = highwater - (last applied offset + 1)`` per assigned input partition: the highwater is
the Faust consumer's (aiokafka's last known log-end offset, updated by every fetch, so it costs
no request at scrape time) and the applied offset is the one kept with the partition's state
(:attr:`~glasswatch.monitor.partition.PartitionState.last_offset`): what the monitors have
really seen, not what was fetched or committed. A partition assigned but without state yet has
applied nothing: its lag is its highwater (an overstatement when retention removed the oldest
records, for the first batch only).

Examples
--------
>>> lag_of({("preds", 0): 120, ("preds", 1): 5}, {("preds", 0): 99})
{('preds', 0): 20, ('preds', 1): 5}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ["Highwaters", "faust_highwaters", "lag_of"]

log = logging.getLogger(__name__)

Highwaters = Callable[[], Mapping[tuple[str, int], int]]
"""(topic, partition) → highwater of every input partition assigned to this worker."""


def lag_of(
    highwaters: Mapping[tuple[str, int], int], applied: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Lag per partition from highwaters and last applied offsets (never negative)."""
    return {tp: max(hw - (applied.get(tp, -1) + 1), 0) for tp, hw in sorted(highwaters.items())}


def faust_highwaters(app: Any, topics: Collection[str]) -> Highwaters:
    """Read the highwaters of ``topics``' assigned partitions from ``app``'s consumer.

    Never creates a consumer (``app.consumer`` would) and answers ``{}`` until the consumer has
    started and been assigned partitions; a partition not fetched yet is left out."""
    wanted = frozenset(topics)

    def read() -> dict[tuple[str, int], int]:
        consumer = getattr(app, "_consumer", None)
        if consumer is None:
            return {}
        try:
            assigned = consumer.assignment()
            out: dict[tuple[str, int], int] = {}
            for tp in assigned:
                if tp.topic in wanted:
                    hw = consumer.highwater(tp)
                    if isinstance(hw, int) and hw >= 0:
                        out[tp.topic, tp.partition] = hw
            return out
        except Exception:  # not started, stopping or rebalancing: no lag this scrape
            log.debug("consumer lag not available", exc_info=True)
            return {}

    return read
