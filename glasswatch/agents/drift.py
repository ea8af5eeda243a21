"""The drift process: windows topic → drift windows → rows from Kafka → Evidently → MLflow, alerts.

Why a plain aiokafka consumer and not a Faust agent (as for the router): the work per drift
window takes seconds (Evidently, MLflow) and must stay off the ingest worker's event loop and
out of its process, and the windows-topic offset may only be committed once nothing before it
is still needed: the summaries of a drift window that is still open (a restart rebuilds it from
the log) and of windows whose job has not finished. A consumer with ``enable_auto_commit=False``
that commits exactly that (:meth:`DriftWindowBook.committable`) says what we mean; Faust acks an
event when its agent has processed it. Running as its own process (``glasswatch drift run``)
also keeps ingest flowing whatever the drift jobs cost. Which summaries make a drift window and
what may be committed is :mod:`glasswatch.agents.drift_windows`'s bookkeeping.

Per drift window (one at a time, in the order they close, so alerts are deterministic):

1. the version's reference: ``store.resolve`` in a thread (MLflow is blocking), remembered per
   ``(model, version)``; none → one ``no_reference`` alert per model;
2. the window's rows: its offset ranges read back from the input topics
   (:func:`glasswatch.kafka.reader.read_range`);
3. :func:`glasswatch.drift.job.run_window` (decode, Evidently, quality) in a
   ``ProcessPoolExecutor`` (:mod:`glasswatch.agents.drift_pool`: spawned workers at a lower CPU priority, nice
   ``JOB_NICENESS``, so that ingest on the same machine wins the CPU; warmed at start), never on
   the event loop;
4. ``store.log_drift_run`` in a thread (an MLflow failure is logged; the alerts go out without
   the run link);
5. :class:`glasswatch.drift.alerts.DriftAlerts` → alerts topic (:func:`alert_record`, ``acks=all``);
   then the window's summaries may be committed.

A restart re-reads the uncommitted summaries, so a window whose alerts were published but not
committed runs again: the MLflow run is found by its window id (not logged twice) and its alerts
have the same ids and content (the router drops them as duplicates). The alert state (open
alerts, columns awaiting confirmation) is rebuilt before a model's first window after the start:
its MLflow runs of earlier windows are read back (:func:`glasswatch.drift.history.runs_to_replay`)
and replayed in order, so the restarted agent raises exactly the alerts an uninterrupted one would. (A window
whose run could not be logged in MLflow, and ``no_reference`` alerts, are not replayed.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import pydantic
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from glasswatch.agents.drift_pool import job_pool, run_job, warm_pool
from glasswatch.agents.drift_windows import DriftJob, DriftWindowBook
from glasswatch.agents.lifecycle import start_clients, stop_clients
from glasswatch.drift.alerts import DriftAlerts, DriftOutcome
from glasswatch.drift.history import runs_to_replay
from glasswatch.drift.reference import Reference, ReferenceStore
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.verdict import DriftVerdict, verdict_of
from glasswatch.drift.window import DriftWindow
from glasswatch.errors import BrokerError, TrackingError
from glasswatch.kafka.alert_publisher import alert_record
from glasswatch.kafka.compacted import ensure_compacted_topic
from glasswatch.kafka.reader import read_range
from glasswatch.monitor.replay import Message
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.alert import Alert

__all__ = ["DriftRuntime", "DriftStats", "read_window"]

log = logging.getLogger(__name__)

async def read_window(bootstrap: str, window: DriftWindow, *, timeout_s: float = 60.0) -> list[Message]:
    """Every message of the window's offset ranges (fewer if retention deleted some)."""
    out: list[Message] = []
    for o in window.offsets:
        out.extend(await read_range(bootstrap, o.topic, o.partition, o.first, o.last, timeout_s=timeout_s))
    return out


@dataclass
class DriftStats:
    summaries: int = 0
    bad_summaries: int = 0
    windows: int = 0
    runs: int = 0
    skipped: int = 0
    no_reference: int = 0
    failures: int = 0
    alerts: int = 0
    replayed: int = 0
    last_job_s: float = 0.0


class DriftRuntime:
    """Runs the drift jobs of the windows topic against Kafka and a reference store."""

    def __init__(
        self,
        *,
        bootstrap: str,
        windows_topic: str,
        alerts_topic: str,
        store: ReferenceStore,
        spec_for: Callable[[str], DriftSpec] = lambda _m: DriftSpec(),
        group_id: str = "glasswatch-drift",
        workers: int = 1,
        pool: Executor | None = None,
        base_url: str | None = None,
        poll_timeout: float = 1.0,
        on_alert: Callable[[Alert], None] | None = None,
        retry_missing_s: float = 300.0,
        verdicts_topic: str | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.verdicts_topic = verdicts_topic
        self.windows_topic = windows_topic
        self.alerts_topic = alerts_topic
        self.store = store
        self.spec_for = spec_for
        self.group_id = group_id
        self.base_url = base_url
        self.poll_timeout = poll_timeout
        self.on_alert = on_alert
        self.retry_missing_s = retry_missing_s
        self._own_pool = pool is None
        self.pool: Executor = pool or job_pool(workers)
        self.alerter = DriftAlerts()
        self.stats = DriftStats()
        self.book = DriftWindowBook(self._params)
        self._queue: asyncio.Queue[DriftJob] = asyncio.Queue()
        self._references: dict[tuple[str, str], tuple[Reference | None, float]] = {}
        self._restored: set[str] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    def _params(self, model: str) -> tuple[int, int | None, int]:
        s = self.spec_for(model)
        return s.period_windows, s.max_rows, s.min_rows

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        warm = loop.run_in_executor(self.pool, warm_pool)
        try:
            if self.verdicts_topic:
                await ensure_compacted_topic(self.bootstrap, self.verdicts_topic)
            self._producer, self._consumer = await start_clients(
                self.bootstrap, self.windows_topic, self.group_id, what="drift"
            )
        except (BrokerError, KafkaError, OSError) as exc:
            await self.close()  # the pool too
            if isinstance(exc, BrokerError):
                raise
            raise BrokerError(f"drift: cannot reach Kafka at {self.bootstrap}: {exc}") from exc
        await warm

    async def close(self) -> None:
        await stop_clients(self._consumer, self._producer, what="drift")
        self._consumer = self._producer = None
        if self._own_pool:
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume and run jobs until ``stop`` is set (the job in flight finishes first)."""
        await self.start()
        worker = asyncio.create_task(self._work())
        try:
            while not stop.is_set():
                await self.poll()
                await self.commit()
                if worker.done():
                    worker.result()  # a bug in the job loop surfaces here
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await self.close()

    # -- consuming -------------------------------------------------------------------------
    async def poll(self) -> None:
        """One poll of the windows topic: summaries → drift windows → the job queue."""
        assert self._consumer is not None, "start() first"
        batch = await self._consumer.getmany(timeout_ms=int(self.poll_timeout * 1000), max_records=2000)
        for tp, records in sorted(batch.items(), key=lambda kv: kv[0].partition):
            for rec in records:
                try:
                    summary = WindowSummary.model_validate_json(rec.value or b"")
                except pydantic.ValidationError as exc:
                    self.book.add(tp, rec.offset, None)
                    self.stats.bad_summaries += 1
                    log.warning("drift: skipping a bad summary at %s[%d]@%d: %s", tp.topic, tp.partition,
                                rec.offset, exc.errors()[0]["msg"])
                    continue
                self.stats.summaries += 1
                for job in self.book.add(tp, rec.offset, summary):
                    self._queue.put_nowait(job)
                    self.stats.windows += 1

    def committable(self) -> dict[TopicPartition, int]:
        """Per windows-topic partition, the offset below which nothing is needed any more."""
        return self.book.committable()

    async def commit(self) -> None:
        if self._consumer is None:
            return
        todo = self.book.to_commit()
        if not todo:
            return
        try:
            await self._consumer.commit(todo)
            self.book.committed_at(todo)
        except (CommitFailedError, KafkaError) as exc:  # a rebalance: the next owner re-reads
            log.warning("drift: commit failed (%s); will retry", exc)

    # -- jobs --------------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self.handle(job.window)
            except Exception:  # one bad window must not stop the others
                self.stats.failures += 1
                log.exception("drift: window %s of %s failed", job.window.id, job.window.model)
            finally:
                self.book.done(job)

    async def _reference(self, model: str, version: str) -> Reference | None:
        """Resolved once per version; a missing one is asked again after ``retry_missing_s``."""
        key = (model, version)
        known = self._references.get(key)
        if known is None or (known[0] is None and time.monotonic() - known[1] > self.retry_missing_s):
            loop = asyncio.get_running_loop()
            ref = await loop.run_in_executor(None, self.store.resolve, model, version)
            known = self._references[key] = (ref, time.monotonic())
        return known[0]

    async def _restore(self, window: DriftWindow) -> None:
        """Rebuild the alert state of ``window``'s model from its earlier runs (once per start)."""
        loop = asyncio.get_running_loop()
        try:
            history = await loop.run_in_executor(None, runs_to_replay, self.store, window)
        except TrackingError as exc:
            log.warning("drift: cannot read the earlier runs of %s (%s); starting without them",
                        window.model, exc)
            history = []
        for outcome in history:
            self.alerter.update(outcome)  # the alerts were published by the earlier run
        self._restored.add(window.model)
        self.stats.replayed += len(history)
        if history:
            log.info("drift: replayed %d earlier runs of %s", len(history), window.model)

    async def handle(self, window: DriftWindow) -> tuple[Alert, ...]:
        """Run one drift window end to end and publish its alerts."""
        loop = asyncio.get_running_loop()
        if window.model not in self._restored:
            await self._restore(window)
        if window.model_version is None:
            reason = "the events carry no model_version"
            return await self._publish(self.alerter.no_reference(window, reason).alerts)
        ref = await self._reference(window.model, window.model_version)
        if ref is None:
            self.stats.no_reference += 1
            reason = f"{window.model} v{window.model_version} has no registered reference data set"
            return await self._publish(self.alerter.no_reference(window, reason).alerts)
        spec = self.spec_for(window.model)
        messages = await read_window(self.bootstrap, window)
        log.info("drift: window %s of %s v%s: job started (%d messages)", window.id, window.model,
                 window.model_version, len(messages))
        started = time.perf_counter()
        rows, result = await loop.run_in_executor(self.pool, run_job, messages, window, ref, spec)
        self.stats.last_job_s = time.perf_counter() - started
        if result.skipped:
            self.stats.skipped += 1
            log.info("drift: window %s of %s skipped: %s", window.id, window.model, result.skipped)
            return ()
        run_id = run_url = report_url = None
        try:
            info = await loop.run_in_executor(None, self.store.log_drift_run, window, ref, rows, result, spec)
            run_id, run_url, report_url = info.run_id, info.run_url, info.report_url
        except TrackingError as exc:
            log.error("drift: window %s of %s not recorded in MLflow: %s", window.id, window.model, exc)
        self.stats.runs += 1
        outcome = DriftOutcome(window, result, reference_sha256=ref.sha256, run_id=run_id, run_url=run_url,
                               report_url=report_url, config_hash=spec.config_hash(),
                               importance=ref.importance)
        alerts = await self._publish(self.alerter.update(outcome).alerts)
        await self._publish_verdict(verdict_of(window, result, run_id))
        return alerts

    async def _publish_verdict(self, verdict: DriftVerdict | None) -> None:
        """The window's verdict for the label join (``inputs_drifted``; :mod:`glasswatch.drift.verdict`)."""
        if verdict is None or not self.verdicts_topic:
            return
        assert self._producer is not None, "start() first"
        await self._producer.send_and_wait(self.verdicts_topic, key=verdict.key.encode(),
                                           value=verdict.model_dump_json().encode())  # fmt: skip

    async def _publish(self, alerts: tuple[Alert, ...]) -> tuple[Alert, ...]:
        if not alerts:
            return alerts
        out = tuple(a.with_base_url(self.base_url) if self.base_url else a for a in alerts)
        assert self._producer is not None, "start() first"
        for a in out:
            key, value = alert_record(a)
            await self._producer.send_and_wait(self.alerts_topic, value=value, key=key)
            if self.on_alert:
                self.on_alert(a)
        self.stats.alerts += len(out)
        return out
