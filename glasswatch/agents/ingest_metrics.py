"""The ingest agent's process-local counters, read by ``/metrics`` and ``/glasswatch/stats``.

Kept apart from the agent (:mod:`glasswatch.agents.ingest`) because the idle-tick writer
(:mod:`glasswatch.agents.idle_ticks`) and the web pages share them.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["IngestMetrics"]


class IngestMetrics:
    """Process-local counters (exported on /metrics and /glasswatch/stats) and, per source
    partition, the monotonic time its last data arrived (for idle ticks)."""

    def __init__(self) -> None:
        self.last_data: dict[str, float] = {}
        self.last_tick: dict[str, datetime] = {}
        self.ticks_sent = 0
        self.messages = 0
        self.batches = 0
        self.skipped_replays = 0
        self.dead_letters = 0
        self.alerts = 0
        self.windows = 0
        self.windows_by_model: dict[str, int] = {}
        self.busy_s = 0.0
        self.apply_errors = 0
        """Messages refused because applying them raised (our bug, never the producer's)."""
        self.monitor_errors = 0
        """Monitor failures and degraded windows (see ``PartitionState.monitor_errors``)."""
