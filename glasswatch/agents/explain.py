"""The explain process: predictions topic → sampled SHAP explanations, attribution drift.

A plain aiokafka consumer in its own process (``glasswatch explain run``) and consumer group, as
the drift process (:mod:`glasswatch.agents.drift`): SHAP costs milliseconds to seconds per event,
so it stays out of the ingest worker's process, and ingest goes on whatever happens here.

Per poll of the predictions topic:

1. every record is decoded with :func:`glasswatch.ingest.validate.decode` (``now`` = the
   record's timestamp, so a replay decides alike); what ingest dead-letters is skipped here;
2. every prediction is scored by its model's anomaly scorer
   (:class:`~glasswatch.explain.anomalies.AnomalySampler`: the worker's scorer, rebuilt from the
   model's monitor spec and fed the same sequence); a prediction is explained when the scorer
   flags it (sample reason ``anomaly``, counted ``anomalies``) or its id falls in the model's
   sample (:func:`glasswatch.explain.sampling.sample_reason`), and it carries every input
   column of the model (else counted ``incomplete``);
3. its ``(model, model_version)`` is resolved in a thread (:mod:`glasswatch.agents.explain_models`,
   bounded cache); a version that cannot be loaded raises one ``model_unavailable`` alert and its
   events are counted ``unavailable``;
4. the sampled rows of one version go to the spawned pool (:mod:`glasswatch.agents.explain_pool`)
   as one task. At most ``max_pending`` tasks wait or run; when the pool is behind, the batch is
   skipped and counted (``skipped_behind``, of which ``skipped_anomalies`` were flagged ones:
   anomaly explanations share the one CPU budget), never queued without bound;
5. results are taken in submission order (so window profiles and alerts are deterministic):
   each explanation goes to the explanations topic (:class:`~glasswatch.schemas.explanation.Explanation`,
   key = prediction id) and into its event-time window (tumbling, ``window_s``) of the version's
   :class:`~glasswatch.explain.profile.AttributionProfile`. A window closes when an explanation
   of the version at or past its end arrives (or on :meth:`ExplainRuntime.flush`): its
   :class:`~glasswatch.schemas.explanation.AttributionWindow` goes to the explanations topic and,
   judged against the training-time profile (:class:`~glasswatch.explain.attribution_drift.AttributionDrift`),
   ``attribution_drift`` fires or resolves on the alerts topic. Late explanations of a closed
   window are counted ``late``.

With ``labels_topic`` the process also reads the labels topic and explains the model's *loss*
on labelled sampled predictions (:mod:`glasswatch.agents.explain_labels`): ``attribution_drift``
with basis ``loss`` when a feature that helped at training time stopped helping — what a concept
change with the same inputs does, which the output attributions above cannot see. Only
predictions from the predictions topic and labels from the labels topic are taken.

The explanations topic is created when missing (``partitions``, a week's retention).
Offsets are committed after each poll: explanations are best effort (a crash loses those in
flight); a replay of the same offsets explains the same predictions with the same values (the
sample is a hash of the id, the anomaly scorers are seeded and see the same sequence when the
replay starts where the process started, the masker is reseeded per row).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

import pandas as pd
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, KafkaError

from glasswatch.agents.explain_labels import DEFAULT_MAX_AWAITING, LossBasis, LossStats, LossTask
from glasswatch.agents.explain_models import ModelResolver, ResolvedModel, Unavailable
from glasswatch.agents.explain_pool import ExplainBatch, explain_pool, explain_rows, warm_explain_pool
from glasswatch.agents.explain_runs import LoggedWindow, WindowRuns
from glasswatch.agents.lifecycle import start_clients, stop_clients
from glasswatch.errors import BrokerError, TrackingError
from glasswatch.explain.alerts import ExplainAlerts
from glasswatch.explain.anomalies import AnomalySampler
from glasswatch.explain.attribution_drift import AttributionDrift
from glasswatch.explain.loss_drift import LossAttributionDrift, LossProfile
from glasswatch.explain.plots import WindowRow, representative
from glasswatch.explain.profile import AttributionProfile, window_start
from glasswatch.explain.sampling import SampleRates, sample_reason
from glasswatch.ingest.validate import decode
from glasswatch.kafka.admin import TopicSpec, ensure_topics
from glasswatch.kafka.alert_publisher import alert_record
from glasswatch.monitor.partition import SpecLookup, default_spec
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.events import LabelEvent, PredictionEvent
from glasswatch.schemas.explanation import AttributionWindow, Explanation, SampleReason

__all__ = ["ExplainRuntime", "ExplainStats"]

log = logging.getLogger(__name__)

_Key = tuple[str, str]


@dataclass
class ExplainStats:
    records: int = 0
    predictions: int = 0
    sampled: int = 0
    anomalies: int = 0
    """Predictions chosen because the anomaly scorer flagged them (part of ``sampled``)."""
    explained: int = 0
    incomplete: int = 0
    unavailable: int = 0
    skipped_behind: int = 0
    skipped_anomalies: int = 0
    """Flagged predictions among ``skipped_behind``."""
    failures: int = 0
    late: int = 0
    windows: int = 0
    alerts: int = 0
    cpu_s: float = 0.0
    """CPU seconds the explainers took in the pool."""
    loss: LossStats = field(default_factory=LossStats)
    """The loss basis (labels joined, loss explanations, windows; its own CPU seconds)."""
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Task:
    resolved: ResolvedModel
    events: list[tuple[PredictionEvent, SampleReason]]
    future: asyncio.Future[ExplainBatch]


@dataclass
class _Windows:
    drift: AttributionDrift | None
    open: dict[datetime, AttributionProfile] = field(default_factory=dict)
    rows: dict[datetime, list[WindowRow]] = field(default_factory=dict)
    closed_before: datetime | None = None


class ExplainRuntime:
    """Explains a sample of the predictions topic (see the module docstring)."""

    def __init__(
        self,
        *,
        bootstrap: str,
        predictions_topic: str,
        explanations_topic: str,
        alerts_topic: str,
        resolver: ModelResolver,
        rates: SampleRates | None = None,
        group_id: str = "glasswatch-explain",
        workers: int = 1,
        pool: Executor | None = None,
        max_pending: int = 4,
        window_s: float = 300.0,
        seed: int = 0,
        base_url: str | None = None,
        poll_timeout: float = 1.0,
        drift_for: Callable[[dict[str, float]], AttributionDrift] = AttributionDrift,
        partitions: int = 1,
        runs: WindowRuns | None = None,
        max_rows_per_window: int = 2000,
        spec_for: SpecLookup | None = default_spec,
        labels_topic: str | None = None,
        max_awaiting: int = DEFAULT_MAX_AWAITING,
        loss_drift_for: Callable[[LossProfile], LossAttributionDrift] = LossAttributionDrift,
    ) -> None:
        self.bootstrap = bootstrap
        self.predictions_topic = predictions_topic
        self.explanations_topic = explanations_topic
        self.alerts_topic = alerts_topic
        self.resolver = resolver
        self.rates = rates or SampleRates()
        self.group_id = group_id
        self.max_pending = max_pending
        self.window = timedelta(seconds=window_s)
        self.seed = seed
        self.base_url = base_url
        self.poll_timeout = poll_timeout
        self.drift_for = drift_for
        self.partitions = partitions
        self.runs = runs
        self.max_rows_per_window = max_rows_per_window
        self.spec_for = spec_for
        """The models' monitor specs (their ``anomaly`` sections); ``None``: no anomaly sample."""
        self.anomalies = AnomalySampler(spec_for) if spec_for is not None else None
        self._mlflow = ThreadPoolExecutor(1, thread_name_prefix="explain-mlflow")  # pyplot: one thread
        self._own_pool = pool is None
        self.pool: Executor = pool or explain_pool(workers)
        self.stats = ExplainStats()
        self.alerter = ExplainAlerts()
        self.labels_topic = labels_topic
        """``None``: no loss basis (labels are not read)."""
        self.loss = LossBasis(pool=self.pool, alerter=self.alerter, window=self.window, seed=seed,
                              max_awaiting=max_awaiting, drift_for=loss_drift_for, stats=self.stats.loss)
        self._tasks: asyncio.Queue[_Task | LossTask] = asyncio.Queue()
        self._windows: dict[_Key, _Windows] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        warm = loop.run_in_executor(self.pool, warm_explain_pool)
        week = str(7 * 24 * 3600 * 1000)
        await ensure_topics(self.bootstrap, [TopicSpec(self.explanations_topic, self.partitions,
                                                       config={"retention.ms": week})])
        try:
            topics = (self.predictions_topic, *([self.labels_topic] if self.labels_topic else []))
            self._producer, self._consumer = await start_clients(self.bootstrap, topics, self.group_id,
                                                                 what="explain")
        except BrokerError:
            await self.close()  # the pools too
            raise
        await warm

    async def close(self) -> None:
        await stop_clients(self._consumer, self._producer, what="explain")
        self._consumer = self._producer = None
        if self._own_pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self._mlflow.shutdown(wait=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume and explain until ``stop`` is set (results in flight are published first)."""
        await self.start()
        worker = asyncio.create_task(self._results())
        try:
            while not stop.is_set():
                await self.poll()
                if worker.done():
                    worker.result()
            await self.drain()
            await self.flush()
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await self.close()

    # -- consuming -------------------------------------------------------------------------
    async def poll(self) -> None:
        """One poll: decode, sample, resolve, submit; then commit what was read."""
        assert self._consumer is not None, "start() first"
        batch = await self._consumer.getmany(timeout_ms=int(self.poll_timeout * 1000), max_records=2000)
        groups: dict[_Key, list[tuple[PredictionEvent, SampleReason]]] = {}
        for tp in sorted(batch, key=lambda t: t.partition):
            for rec in batch[tp]:
                self.stats.records += 1
                now = datetime.fromtimestamp(rec.timestamp / 1000, tz=UTC)
                for event in decode(rec.value, now=now).events:
                    if isinstance(event, LabelEvent) and tp.topic == self.labels_topic:
                        self.loss.label(event, sample_reason(event.prediction_id,
                                                             self.rates.rate(event.model)) is not None)
                    if not isinstance(event, PredictionEvent) or tp.topic != self.predictions_topic:
                        continue
                    self.stats.predictions += 1
                    flagged = self.anomalies is not None and self.anomalies.update(
                        event.model, event.features).flagged
                    reason = sample_reason(event.prediction_id, self.rates.rate(event.model),
                                           anomalous=flagged)
                    if reason is not None:
                        self.stats.sampled += 1
                        self.stats.anomalies += reason == "anomaly"
                        groups.setdefault((event.model, event.model_version), []).append((event, reason))
        for key in sorted(groups):
            await self._submit(key, groups[key])
        self._submit_losses()
        if batch:
            with contextlib.suppress(CommitFailedError, KafkaError):
                await self._consumer.commit()

    async def _submit(self, key: _Key, events: list[tuple[PredictionEvent, SampleReason]]) -> None:
        loop = asyncio.get_running_loop()
        resolved = await loop.run_in_executor(None, self.resolver.resolve, *key)
        if isinstance(resolved, Unavailable):
            self.stats.unavailable += len(events)
            at = min(e.event_time for e, _ in events)
            await self._publish_alerts(self.alerter.model_unavailable(key[0], key[1], resolved.reason, at))
            return
        rows, kept = [], []
        for event, reason in events:
            feats = event.features or {}
            values = [feats.get(f) for f in resolved.features]
            if not all(_finite_number(v) for v in values):
                self.stats.incomplete += 1
                continue
            rows.append(values)
            kept.append((event, reason))
        if not kept:
            return
        if self._tasks.qsize() >= self.max_pending:
            self.stats.skipped_behind += len(kept)
            self.stats.skipped_anomalies += sum(reason == "anomaly" for _, reason in kept)
            return
        frame = pd.DataFrame(rows, columns=list(resolved.features), dtype=float)
        future = loop.run_in_executor(self.pool, explain_rows, resolved.model_dir, resolved.background,
                                      frame, self.seed)
        self._tasks.put_nowait(_Task(resolved, kept, asyncio.ensure_future(future)))

    def _submit_losses(self) -> None:
        """The joined label pairs to the pool, within the ``max_pending`` budget."""
        if self.loss.ready:
            for task in self.loss.tasks(self.max_pending - self._tasks.qsize()):
                self._tasks.put_nowait(task)

    # -- results ------------------------------------------------------------------------------
    async def _results(self) -> None:
        while True:
            task = await self._tasks.get()
            try:
                await self._handle(task)
            except Exception:  # one bad batch must not stop the others
                if isinstance(task, LossTask):
                    self.stats.loss.failures += len(task.pairs)
                else:
                    self.stats.failures += len(task.events)
                log.exception("explain: a batch of %s v%s failed", task.resolved.model, task.resolved.version)
            finally:
                self._tasks.task_done()

    async def drain(self) -> None:
        """Wait until every submitted batch is published (shutdown; needs :meth:`run`'s consumer
        of results, else use :meth:`drain_results`); label pairs joined meanwhile are explained."""
        await self._tasks.join()
        while self.loss.ready:
            self._submit_losses()
            await self._tasks.join()

    async def drain_results(self) -> None:
        """Publish the results of every submitted batch, in order, from the caller's task (for a
        caller driving :meth:`poll` itself, as tests and benchmarks do)."""
        while not self._tasks.empty() or self.loss.ready:
            self._submit_losses()
            if self._tasks.empty():
                break  # the pairs were not submitted (unprofiled versions)
            task = self._tasks.get_nowait()
            try:
                await self._handle(task)
            finally:
                self._tasks.task_done()

    async def _handle(self, task: _Task | LossTask) -> None:
        if isinstance(task, LossTask):
            await self._publish_alerts(await self.loss.handle(task))
            return
        result = await task.future
        self.stats.cpu_s += result.cpu_s
        r = task.resolved
        assert self._producer is not None, "start() first"
        for (event, reason), a in zip(task.events, result.attributions, strict=True):
            ex = Explanation(prediction_id=event.prediction_id, model=r.model, model_version=r.version,
                             event_time=event.event_time, explainer=result.kind,
                             sample_reason=reason, output=result.output, base_value=a.base_value,
                             model_output=a.model_output, attributions=a.values)
            await self._producer.send_and_wait(self.explanations_topic, key=event.prediction_id.encode(),
                                               value=ex.model_dump_json().encode())
            self.stats.explained += 1
            row = WindowRow(event.prediction_id, a.base_value, a.model_output, a.values,
                            {f: float(v) for f, v in (event.features or {}).items()
                             if f in a.values and _finite_number(v)})
            await self._add_to_window(r, event.event_time, row)
            if self.labels_topic and reason == "sampled":
                self.loss.explained(r, event)

    async def _add_to_window(self, r: ResolvedModel, t: datetime, row: WindowRow) -> None:
        key = (r.model, r.version)
        w = self._windows.get(key)
        if w is None:
            drift = self.drift_for(r.training_profile) if r.training_profile else None
            w = self._windows[key] = _Windows(drift)
        start = window_start(t, self.window)
        if w.closed_before is not None and start < w.closed_before:
            self.stats.late += 1
            return
        w.open.setdefault(start, AttributionProfile()).update(row.attributions)
        rows = w.rows.setdefault(start, [])
        if len(rows) < self.max_rows_per_window:
            rows.append(row)
        for s in sorted(w.open):
            if s + self.window <= t:
                await self._close(r, w, s)

    async def flush(self) -> None:
        """Close every open window (end of a replay, shutdown); batches must be drained."""
        for key in sorted(self._windows):
            w = self._windows[key]
            for s in sorted(w.open):
                await self._close(_Named(*key), w, s)
        await self._publish_alerts(self.loss.flush())

    async def _close(self, r: ResolvedModel | _Named, w: _Windows, start: datetime) -> None:
        profile = w.open.pop(start)
        rows = w.rows.pop(start, [])
        w.closed_before = max(w.closed_before or start, start + self.window)
        comparison = None
        if w.drift is not None:
            comparison = w.drift.update(profile.mean_abs, explanations=profile.count).last
        window = AttributionWindow(
            model=r.model, model_version=r.version, start=start, end=start + self.window,
            explanations=profile.count, mean_abs=profile.mean_abs, mean_signed=profile.mean_signed,
            rank=profile.rank, rank_correlation=comparison.rank_correlation if comparison else None,
            distance=comparison.distance if comparison else None,
            drifted=bool(comparison and comparison.drifted))
        assert self._producer is not None, "start() first"
        await self._producer.send_and_wait(self.explanations_topic, key=f"{r.model}/{r.version}".encode(),
                                           value=window.model_dump_json().encode())
        self.stats.windows += 1
        logged = await self._log_window(window, rows)
        if w.drift is not None:
            await self._publish_alerts(self.alerter.window(window, w.drift.training, w.drift.thresholds,
                                                           logged=logged, comparison=comparison))

    async def _log_window(self, window: AttributionWindow, rows: list[WindowRow]) -> LoggedWindow | None:
        """The window's MLflow run (SHAP plots, CSV; a waterfall when it drifted), if configured."""
        if self.runs is None or not rows:
            return None
        top = next(iter(window.mean_abs), None)
        waterfall_of = representative(rows, top).prediction_id if window.drifted and top else None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._mlflow, self.runs.log, window, rows, waterfall_of)
        except TrackingError as exc:
            log.error("explain: window %s of %s not recorded in MLflow: %s", window.start, window.model, exc)
            return None

    async def _publish_alerts(self, alerts: tuple[Alert, ...]) -> None:
        if not alerts:
            return
        assert self._producer is not None, "start() first"
        for a in alerts:
            a = a.with_base_url(self.base_url) if self.base_url else a
            key, value = alert_record(a)
            await self._producer.send_and_wait(self.alerts_topic, key=key, value=value)
            self.stats.alerts += 1


def _finite_number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class _Named:
    model: str
    version: str
