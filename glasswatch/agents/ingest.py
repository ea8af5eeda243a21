"""Ingest agent: raw bytes → validate → statistics and monitors; bad input → dead-letter topic.

Per batch of Kafka messages (``take_events``): group by source partition, skip offsets already
applied, decode each message (:func:`glasswatch.ingest.validate.decode`), update that partition's
:class:`~glasswatch.monitor.partition.PartitionState` (statistics, then the model monitors once per
batch), publish dead letters, alerts and closed-window summaries and *wait for their
acknowledgement* (:mod:`glasswatch.agents.outbox`), then write the state (one table value per
partition, naming the models the batch touched: the others' stored parts are re-used, see
:mod:`glasswatch.kafka.state_store`; the state object itself stays live between batches).
Nothing here raises on input: a failure of our own code is logged with the message
coordinates and the message is dead-lettered with reason ``invalid`` rather than crashing the worker.

One thing does stop the worker: a stored state signed with another worker's key (the workers of
the group do not share ``GLASSWATCH_WORKER__STATE_KEY``, a
:class:`~glasswatch.errors.ConfigError`). Starting that partition from empty state would throw its
statistics and monitors away, so the batch is dropped before anything is sent or written, the
error is logged once at CRITICAL and the Faust app crashes; nothing is committed past the batch.
Idle ticks (:mod:`glasswatch.agents.idle_ticks`) keep event time moving in quiet partitions.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from glasswatch.agents.baseline_accepts import WorkerAccepts, run_with_accepts
from glasswatch.agents.idle_ticks import write_idle_ticks
from glasswatch.agents.ingest_metrics import IngestMetrics
from glasswatch.agents.outbox import Record, alert_records, late_letter, publish
from glasswatch.errors import ConfigError
from glasswatch.ingest.reject import Reject
from glasswatch.ingest.tick_auth import TickAuth
from glasswatch.ingest.validate import Limits, decode
from glasswatch.kafka.app import GlasswatchApp
from glasswatch.kafka.context import event_context
from glasswatch.kafka.gaps import GapFiller
from glasswatch.kafka.state_codec import load_state_key
from glasswatch.monitor.partition import PartitionState, SpecLookup, default_spec
from glasswatch.monitor.reject_rate import model_hint
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.coords import partition_key
from glasswatch.schemas.dead_letter import DeadLetter, ItemReject
from glasswatch.schemas.events import Tick

if TYPE_CHECKING:
    from glasswatch.agents.baselines import BaselineProvider

__all__ = ["EXIT_CONFIG", "BatchStep", "Clock", "attach_ingest", "process_batch"]

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
BatchStep = Callable[[Sequence[Any]], Awaitable[object]]
"""A further step on each batch of the ingest agent (``attach_ingest(..., then=...)``)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def process_batch(
    gw: GlasswatchApp,
    events: Sequence[Any],
    *,
    limits: Limits,
    clock: Clock = _utcnow,
    metrics: IngestMetrics | None = None,
    monitors: bool = True,
    spec_for: SpecLookup = default_spec,
    on_alert: Callable[[Alert], None] | None = None,
    tick_auth: TickAuth | None = None,
    gaps: GapFiller | None = None,
    baselines: BaselineProvider | None = None,
    accepts: WorkerAccepts | None = None,
) -> int:
    """Process one batch of Kafka events; returns how many typed events were applied.

    ``tick_auth`` verifies the worker's signature on ticks; without it every tick is refused
    (``forged_tick``). A partition state signed with another worker's key stops the worker
    (see the module docstring): nothing of the batch is sent or written, and 0 is returned.
    ``baselines`` arms each new model version's bands from its reference (fetched in its thread
    before the monitors run, :mod:`glasswatch.agents.baselines`); ``None``: learned bands only.
    ``accepts``: the baseline accepts, read to the topic's end first and each applied at its point
    in the events (:mod:`glasswatch.agents.baseline_accepts`)."""
    started = time.perf_counter()
    applied = 0
    now = clock()
    if accepts is not None and monitors:
        await accepts.refresh()
    groups: dict[str, list[Any]] = defaultdict(list)
    for ev in events:
        groups[partition_key(ev.message.topic, ev.message.partition)].append(ev)
    try:
        stored = {key: gw.read_state(key) for key in groups}
    except ConfigError as exc:  # a misconfigured group: nothing of this batch may be written
        await _stop_worker(gw, exc)
        return 0
    for key, evs in groups.items():
        state = stored[key] or PartitionState(topic=evs[0].message.topic, partition=evs[0].message.partition)
        if gaps is not None:  # what a rebalance made the consumer skip (kafka/gaps.py)
            evs = await gaps.fill(evs, state.last_offset)
        letters: list[DeadLetter] = []
        changed = False
        saw_data = False
        touched = _Touched()
        for ev in evs:
            if state.seen(ev.message.offset):
                if metrics:
                    metrics.skipped_replays += 1
                continue
            n_good, letter = _ingest_one(state, ev, now, limits, tick_auth, metrics, touched)
            applied += n_good
            changed = True
            saw_data = saw_data or n_good > 0
            if letter is not None:
                letters.append(letter)
        if saw_data and metrics is not None:
            metrics.last_data[key] = time.monotonic()
        outbox: list[Record] = []
        partition_alerts = state.take_alerts()  # dead-letter rate of this partition
        outbox.extend(alert_records(gw, partition_alerts, on_alert))
        if metrics:
            metrics.alerts += len(partition_alerts)
        if changed and monitors:
            errors_before = state.monitor_errors
            lookup = await baselines.prepare(state) if baselines is not None else None
            due = accepts.for_state(state) if accepts is not None else []
            try:
                outputs = run_with_accepts(state, due, spec_for, lookup)
            except Exception:  # a monitor bug must not stop ingest; the statistics stay applied
                log.exception("monitors failed on %s up to offset %s", key, state.last_offset)
                state.discard_pending()
                state.monitor_errors += 1
                touched.every = True  # whatever it changed before it raised
                outputs = []
            if metrics:
                metrics.monitor_errors += state.monitor_errors - errors_before
            for model, out in outputs:
                outbox.extend(alert_records(gw, out.alerts, on_alert))
                for window in out.windows:
                    for summary in window.summaries.values():
                        outbox.append((gw.windows, model.encode(), summary.model_dump_json().encode()))
                letters.extend(late_letter(rec) for rec in out.late)
                if metrics:
                    metrics.monitor_output(model, out, state.monitors.get(model))
        else:
            state.discard_pending()
        outbox.extend((gw.dead_letters, key.encode(), dl.model_dump_json().encode()) for dl in letters)
        if outbox:
            await publish(outbox)
            if metrics:
                metrics.dead_letters += len(letters)
        if changed:
            with event_context(evs[-1]):
                gw.write_state(key, state, None if touched.every else touched.models)
    if metrics:
        metrics.batch_done(len(events), time.perf_counter() - started)
    return applied


class _Touched:
    """The models whose statistics or monitor a batch may have changed (``every``: all of them,
    e.g. after a tick, which advances every monitor of the partition)."""

    def __init__(self) -> None:
        self.models: set[str] = set()
        self.every = False


def _ingest_one(
    state: PartitionState,
    ev: Any,
    now: datetime,
    limits: Limits,
    tick_auth: TickAuth | None,
    metrics: IngestMetrics | None,
    touched: _Touched | None = None,
) -> tuple[int, DeadLetter | None]:
    """Decode and apply one message; returns (events applied, its dead letter if any).

    Nothing raises here on any input: a failure of our own code while decoding or applying
    refuses the whole message (``invalid``, "internal error" with the exception class; the
    traceback goes to the log, never to the dead-letter topic) and :meth:`PartitionState.apply`
    being atomic, nothing of it is half-applied. Every other message is applied exactly once."""
    msg = ev.message
    raw = ev.value if isinstance(ev.value, bytes) else None
    headers = getattr(msg, "headers", None)

    def tick_check(tick: Tick) -> bool:
        return tick_auth is not None and tick_auth.verify(msg.topic, msg.partition, tick.event_time, headers)

    try:
        decoded = decode(raw, now=now, limits=limits, tick_check=tick_check)
        rejects, good, ticks = decoded.rejects, decoded.events, decoded.ticks
    except Exception as exc:  # a bug of ours must not stop the stream
        log.exception("ingest failed on %s[%s]@%s", msg.topic, msg.partition, msg.offset)
        rejects, good, ticks = [_internal(exc, "decoding")], [], []
    model = model_hint(msg.key, raw) if rejects else None
    if touched is not None:  # before apply: a failed apply rolls back, but may leave traces
        touched.models.update(e.model for e in good)
        touched.every = touched.every or bool(ticks)
    try:
        state.apply(msg.offset, good, [r.reason for r in rejects], ticks, reject_model=model)
    except Exception as exc:  # rolled back by apply: refuse the message as a whole
        log.exception("applying %s[%s]@%s failed; message refused", msg.topic, msg.partition, msg.offset)
        if metrics is not None:
            metrics.apply_errors += 1
        whole = _internal(exc, f"applying its {len(good)} event(s)")
        reasons = [r.reason for r in rejects] + ["invalid"] * max(1, len(good))
        state.refuse(msg.offset, reasons, reject_model=model_hint(msg.key, raw))
        rejects, good, refused = [*rejects, whole], [], len(reasons)
    else:
        refused = len(rejects)
    if not rejects:
        return len(good), None
    items = [ItemReject(r.index, r.reason, r.error_class, r.detail) for r in rejects]
    letter = DeadLetter.of_items(
        raw=raw or b"", topic=msg.topic, partition=msg.partition, offset=msg.offset, items=items,
        rejected=refused,
    )  # fmt: skip
    return len(good), letter


def _internal(exc: BaseException, doing: str) -> Reject:
    """The reject of a message our own code failed on: the exception class, no traceback."""
    return Reject("invalid", type(exc).__name__, f"internal error while {doing}: {type(exc).__name__}")


EXIT_CONFIG = 78
"""Exit status of a worker stopped by a configuration error it cannot run with (EX_CONFIG)."""


def _exit_now(status: int) -> None:
    """End the process at once (replaced in unit tests). Not a graceful stop: Faust's stop
    commits the consumer's offsets, and the integration test saw a crash-then-stop skip the
    batch that met the error; an immediate exit commits nothing, so a restart with the right key
    applies that batch exactly once."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(status)


async def _stop_worker(gw: GlasswatchApp, exc: ConfigError) -> None:
    """Log a configuration error the worker cannot run with (once, at CRITICAL) and end the
    process at once: nothing is written, sent or committed past the batch that met it."""
    if gw.app.crashed:
        return  # already stopping: told once
    log.critical("stopping the worker: %s", exc)
    _exit_now(EXIT_CONFIG)
    await gw.app.crash(exc)  # reached only where ``_exit_now`` is replaced (unit tests)


def attach_ingest(
    gw: GlasswatchApp,
    *,
    batch_size: int = 2000,
    linger_s: float = 0.25,
    clock: Clock = _utcnow,
    metrics: IngestMetrics | None = None,
    monitors: bool = True,
    spec_for: SpecLookup = default_spec,
    on_alert: Callable[[Alert], None] | None = None,
    tick_auth: TickAuth | None = None,
    then: BatchStep | None = None,
    baselines: BaselineProvider | None = None,
    accepts: WorkerAccepts | None = None,
) -> Any:
    """Register the ingest agent on ``gw.app`` and return it.

    ``then``: a further step run on every batch after ingest applied it (the label join,
    :class:`~glasswatch.agents.labels.LabelStep`). Each input topic has exactly one Faust agent
    — this one: two agents on a topic share each message's acknowledgement, which under
    rebalance let the commit jump past a message one of them never applied and once left a
    worker waiting forever for the other's ack (see :mod:`glasswatch.kafka.gaps`).

    Ticks are signed and verified with ``tick_auth``, by default keyed by the worker's state key
    (:func:`~glasswatch.kafka.state_codec.load_state_key`, shared by a consumer group)."""
    v = gw.settings.validation
    limits = Limits(v.max_message_bytes, v.max_clock_skew_s, v.max_age_s)
    auth = tick_auth or TickAuth(load_state_key(gw.settings.worker))

    held: list[Any] = []  # see below: lives as long as the agent
    gaps = GapFiller(gw.settings.kafka.bootstrap)  # reads back what a rebalance made Faust skip

    async def ingest(stream: Any) -> None:
        batches = stream.take_events(batch_size, within=linger_s)
        async for events in batches:
            if not gw.app.crashed:
                await process_batch(
                    gw,
                    events,
                    limits=limits,
                    clock=clock,
                    metrics=metrics,
                    monitors=monitors,
                    spec_for=spec_for,
                    on_alert=on_alert,
                    tick_auth=auth,
                    gaps=gaps,
                    baselines=baselines,
                    accepts=accepts,
                )
                if then is not None and not gw.app.crashed:
                    await then(events)
            if gw.app.crashed:  # a fatal configuration error, met here or by the idle-tick timer
                # Faust acknowledges a batch when ``take_events`` is resumed or closed: keep it
                # suspended, so the offsets of a batch not applied are never committed
                held.append(batches)
                return

    agent = gw.app.agent(gw.inputs, name="glasswatch.ingest")(ingest)
    w = gw.settings.worker
    if monitors and w.idle_tick_s > 0:
        tick_metrics = metrics if metrics is not None else IngestMetrics()

        async def idle_ticks() -> None:
            try:
                await write_idle_ticks(gw, tick_metrics, idle_after_s=w.idle_after_s, tick_auth=auth)
            except ConfigError as exc:  # a state signed with another key: as fatal as in a batch
                await _stop_worker(gw, exc)
            except Exception:  # a failed tick is retried at the next interval; never stop the worker
                log.exception("writing idle ticks failed")

        gw.app.timer(interval=w.idle_tick_s, name="glasswatch.idle_ticks")(idle_ticks)
    return agent
