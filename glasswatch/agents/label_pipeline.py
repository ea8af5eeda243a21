"""What the label join keeps besides its table: its settings and the process-local counters.

:class:`LabelPipeline` is everything :func:`glasswatch.agents.labels.process_label_batch` needs
besides the app: the ``label-join`` table, ingest limits, the join's TTL, the performance config
per model, the lookup of a version's registered metrics (MLflow, in an executor, once per version)
and the tick authenticator; :meth:`LabelPipeline.fresh` is the state of a table partition never
written. :class:`LabelMetrics` counts what this process did and keeps, per table partition, the
:func:`partition_summary` the ``/glasswatch/labels/`` page shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from glasswatch.drift.labels import LabelJoin
from glasswatch.drift.pending import MemoryPendingStore
from glasswatch.drift.performance import PerformanceConfig
from glasswatch.drift.verdict import VerdictBook
from glasswatch.ingest.tick_auth import TickAuth
from glasswatch.ingest.validate import Limits
from glasswatch.kafka.gaps import GapFiller
from glasswatch.kafka.pending_store import BUCKETS_PER_TTL, IndexState
from glasswatch.schemas.alert import Alert

__all__ = ["LabelMetrics", "LabelPipeline", "RegisteredLookup", "partition_summary"]

log = logging.getLogger(__name__)

RegisteredLookup = Callable[[str, str], dict[str, float] | None]
"""``(model, version) → the version's registered evaluation metrics`` (blocking: MLflow); called
in an executor once per version this process meets, ``None`` when there are none."""


class LabelMetrics:
    """Process-local counters, and the last state of each table partition (for the page)."""

    def __init__(self) -> None:
        self.messages = 0
        self.batches = 0
        self.skipped_replays = 0
        self.alerts = 0
        self.errors = 0
        self.verdicts = 0
        """Model versions with a drift verdict (``inputs_drifted`` known)."""
        self.recovered = 0
        """Messages the consumer skipped at a rebalance, read back (:mod:`glasswatch.kafka.gaps`)."""
        self.busy_s = 0.0
        self.partitions: dict[int, dict[str, Any]] = {}
        self.registered: dict[tuple[str, str], dict[str, float] | None] = {}

    def snapshot(self) -> dict[str, Any]:
        totals: dict[str, int] = defaultdict(int)
        for part in self.partitions.values():
            for k, v in part["counts"].items():
                totals[k] += v
        process = {
            k: getattr(self, k)
            for k in ("messages", "batches", "skipped_replays", "alerts", "errors", "verdicts", "recovered")
        }
        return {"totals": dict(totals), "partitions": self.partitions, "process": process}


class LabelPipeline:
    """What :func:`process_label_batch` needs besides the app (built once by :func:`attach_labels`;
    the join's store is bound per partition, the placeholder of a fresh state is never used)."""

    def __init__(
        self,
        table: Any,
        *,
        limits: Limits,
        ttl_s: float,
        grace_s: float,
        sweep_limit: int,
        config_for: Callable[[str], PerformanceConfig],
        registered: RegisteredLookup | None,
        tick_auth: TickAuth | None,
        metrics: LabelMetrics,
        on_alert: Callable[[Alert], None] | None,
        clock: Callable[[], datetime],
        gaps: GapFiller | None = None,
        verdicts: VerdictBook | None = None,
    ) -> None:
        self.gaps = gaps
        """Reads back what the consumer skipped (:mod:`glasswatch.kafka.gaps`); None: trust it."""
        self.verdicts = verdicts if verdicts is not None else VerdictBook()
        """The drift process's verdicts (``inputs_drifted`` of the alerts), fed by the agent."""
        self.table, self.limits, self.metrics, self.on_alert, self.clock = (
            table,
            limits,
            metrics,
            on_alert,
            clock,
        )
        self.ttl_s, self.grace_s, self.sweep_limit = ttl_s, grace_s, sweep_limit
        self.config_for, self.registered, self.tick_auth = config_for, registered, tick_auth

    def fresh(self) -> dict[str, Any]:
        bucket_ms = max(1000, int(self.ttl_s * 1000) // BUCKETS_PER_TTL)
        join = LabelJoin(
            MemoryPendingStore(), ttl_s=self.ttl_s, grace_s=self.grace_s, sweep_limit=self.sweep_limit
        )
        return {"offsets": {}, "join": join, "monitors": {}, "index": IndexState(bucket_ms).to_dict()}

    async def lookup(self, model: str, version: str) -> dict[str, float] | None:
        key = (model, version)
        if self.registered is None:
            return None
        if key not in self.metrics.registered:
            try:
                found = await asyncio.get_running_loop().run_in_executor(
                    None, self.registered, model, version
                )
            except Exception:  # MLflow down or slow: compare with the first window instead
                log.exception("registered metrics of %s v%s unavailable", model, version)
                found = None
            self.metrics.registered[key] = dict(found) if found else None
        return self.metrics.registered[key]


def partition_summary(meta: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of one table partition's state: counts, offsets, monitors."""
    lj: LabelJoin = meta["join"]
    monitors: dict[str, dict[str, Any]] = defaultdict(dict)
    for mon in meta["monitors"].values():
        monitors[mon.model][mon.model_version] = {
            "task": mon.task, "labelled": mon.n, "windows": mon.windows, "metrics": mon.metrics,
            "reference": mon.reference, "firing": sorted(k.value for k in mon.firing),
        }  # fmt: skip
    return {"counts": dict(lj.counts), "offsets": dict(meta["offsets"]), "monitors": dict(monitors)}
