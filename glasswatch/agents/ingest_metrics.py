"""The ingest agent's process-local counters, read by ``/metrics`` and ``/glasswatch/stats``.

Kept apart from the agent (:mod:`glasswatch.agents.ingest`) because the idle-tick writer
(:mod:`glasswatch.agents.idle_ticks`) and the web pages share them. The agent reports through
two calls: :meth:`IngestMetrics.monitor_output` per model output and
:meth:`IngestMetrics.batch_done` per batch; everything else (the Prometheus families) is read
from here at scrape time by :mod:`glasswatch.web.metrics`.

Signal values (the last closed window's value of every signal a model's spec watches) are kept
for at most ``max_signal_series`` (model, signal) pairs, first come first kept, because model,
feature and so signal names are chosen by producers. Updates of pairs beyond the cap are counted
in ``signal_values_dropped`` (a count of updates: a count of distinct dropped pairs would need
the unbounded memory the cap is there to avoid).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import Histogram

from glasswatch.monitor.signal_state import signal_values

if TYPE_CHECKING:
    from glasswatch.monitor.model_monitor import ModelMonitor, MonitorOutput

__all__ = ["BATCH_BUCKETS", "MAX_SIGNAL_SERIES", "IngestMetrics"]

BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of ``glasswatch_batch_seconds``: a batch of 2,000 events takes ~0.1 s."""
MAX_SIGNAL_SERIES = 1000
"""(model, signal) pairs whose last value is kept for ``glasswatch_signal_value``."""


class IngestMetrics:
    """Process-local counters (exported on /metrics and /glasswatch/stats) and, per source
    partition, the monotonic time its last data arrived (for idle ticks)."""

    def __init__(self, *, max_signal_series: int = MAX_SIGNAL_SERIES) -> None:
        self.max_signal_series = max_signal_series
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
        self.signals: dict[tuple[str, str], float] = {}
        """(model, signal) → value in the last closed window (bounded, see the module docstring)."""
        self.signal_values_dropped = 0
        self.batch_seconds = Histogram(
            "glasswatch_batch_seconds",
            "Seconds the ingest agent took per batch (validate, monitors, publish, state write).",
            buckets=BATCH_BUCKETS,
            registry=None,  # exported by the worker's own registry (glasswatch.web.metrics)
        )

    def monitor_output(self, model: str, out: MonitorOutput, monitor: ModelMonitor | None = None) -> None:
        """Count one model's monitor output: alerts, closed windows and, with the ``monitor`` whose
        spec names the signals, the last value of each signal (category-mix distances excluded:
        they are relative to the monitor's learned mix)."""
        self.alerts += len(out.alerts)
        self.windows += len(out.windows)
        self.windows_by_model[model] = self.windows_by_model.get(model, 0) + len(out.windows)
        if monitor is None:
            return
        for window in out.windows:
            for stream, summary in window.summaries.items():
                for name, value in signal_values(monitor.spec, {}, stream, summary):
                    if value is not None and math.isfinite(value) and not name.endswith(":category_mix"):
                        self._set_signal(model, name, value)

    def _set_signal(self, model: str, signal: str, value: float) -> None:
        key = (model, signal)
        if key in self.signals or len(self.signals) < self.max_signal_series:
            self.signals[key] = value
        else:
            self.signal_values_dropped += 1

    def batch_done(self, messages: int, seconds: float) -> None:
        """Count one processed batch of ``messages`` Kafka messages that took ``seconds``."""
        self.messages += messages
        self.batches += 1
        self.busy_s += seconds
        self.batch_seconds.observe(seconds)
