"""What the worker keeps per source topic-partition: statistics, monitors and the last offset.

One value per source partition, written as one changelog record after each batch, holds
everything the events of that partition changed: running statistics (:mod:`glasswatch.monitor.stats`),
one :class:`~glasswatch.monitor.model_monitor.ModelMonitor` per model (windows, thresholds, detectors),
reject counters and the last applied Kafka offset. A replay after a crash skips offsets already
applied, so each event affects the state exactly once; the alerts of a replayed batch are
recomputed identically (same ids), so downstream deduplication absorbs a re-send.

Producers should key events by model (the :class:`glasswatch.client.Publisher` does): a model's
events then live in one partition and one monitor sees all of them in order.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.schemas.events import PredictionEvent
>>> e = PredictionEvent(model="m", model_version="1", prediction_id="p",
...                     event_time=datetime(2026, 1, 1, tzinfo=timezone.utc), features={"x": 2.0})
>>> st = PartitionState(topic="predictions", partition=0)
>>> st.apply(10, [e]), st.apply(10, [e]), st.apply(11, [e])
(True, False, True)
>>> st.models["m"].features["x"].count, st.last_offset, len(st.pending)
(2, 11, 2)
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from glasswatch.monitor.baselines import BaselineLookup
from glasswatch.monitor.model_monitor import ModelMonitor, MonitorOutput
from glasswatch.monitor.reject_rate import RejectRate
from glasswatch.monitor.signal_alert import with_state_offsets
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.stats import ModelStats
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.coords import Coord, OffsetRange
from glasswatch.schemas.events import TypedEvent

__all__ = ["PartitionState", "SpecLookup", "default_spec"]

_log = logging.getLogger(__name__)

SpecLookup = Callable[[str], MonitorSpec]
"""Returns the monitor spec of a model (a default spec when none is configured)."""


def default_spec(model: str) -> MonitorSpec:
    return MonitorSpec(model=model)


@dataclass
class PartitionState:
    topic: str = ""
    partition: int = 0
    last_offset: int = -1
    models: dict[str, ModelStats] = field(default_factory=dict)
    monitors: dict[str, ModelMonitor] = field(default_factory=dict)
    rejects: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    pending: list[Located | datetime] = field(default_factory=list, repr=False)
    """Events (and ticks, in log order) applied to the statistics but not yet fed to the monitors."""
    max_event_time: datetime | None = None
    """Latest event time applied (the worker's idle ticks continue from it)."""
    reject_rate: RejectRate | None = None
    """Dead-letter rate of this partition (``dead_letters``/``schema_break`` alerts), created on first use."""
    pending_alerts: list[Alert] = field(default_factory=list, repr=False)
    """Alerts raised by :meth:`apply` (dead-letter rate), handed out by :meth:`take_alerts`."""
    first_offset: int = -1
    """The first offset this state applied (-1: none yet, or a state stored before it was kept).
    Every monitor of the partition was built from the messages since: an alert's lineage names
    the range from here (``state_offsets``) so that its replay rebuilds the same state."""
    monitor_errors: int = 0
    """Model-monitor failures (a monitor that raised on a batch, a window whose summary had to be
    degraded): counted and logged, never a stalled partition."""
    _undo: dict[str, tuple[ModelStats | None, int]] = field(default_factory=dict, repr=False, compare=False)
    """Per model: its statistics before their first update since the monitors last ran, and the
    length of ``pending`` then (not persisted; see :meth:`apply`)."""

    def seen(self, offset: int) -> bool:
        return offset <= self.last_offset

    def apply(
        self,
        offset: int,
        events: Iterable[TypedEvent],
        reject_reasons: Iterable[str] = (),
        ticks: Iterable[datetime] = (),
        *,
        reject_model: str | None = None,
    ) -> bool:
        """Apply one message's outcome; returns False (and does nothing) if already applied.

        ``ticks`` are control ticks (:class:`~glasswatch.schemas.events.Tick`): at their place in
        the log every monitor of the partition advances its event time to them. ``reject_model``
        is the model a refused message belongs to when known
        (:func:`~glasswatch.monitor.reject_rate.model_hint`): it names the model of a
        ``schema_break`` alert.

        Atomic: if updating the statistics raises (a value our code cannot handle), the models'
        statistics are rolled back to before this message and the exception propagates; nothing
        else changed, so the caller can :meth:`refuse` the message instead.
        """
        if offset <= self.last_offset:
            return False
        if self.first_offset < 0 and self.last_offset < 0:
            self.first_offset = offset
        events = list(events)
        by_model: dict[str, list[TypedEvent]] = {}
        for event in events:
            by_model.setdefault(event.model, []).append(event)
        touched: list[str] = []
        try:  # the only step that runs per-value code: all of it or none of it
            for model, evs in by_model.items():
                touched.append(model)
                self._stats_to_update(model).update_many(evs)
        except Exception:
            for model in touched:
                self._roll_back(model)
            raise
        at = Coord(self.topic, self.partition, offset)  # shared by the events of one (batch) message
        for event in events:
            self.pending.append(Located(event, at))
            if self.max_event_time is None or event.event_time > self.max_event_time:
                self.max_event_time = event.event_time
        self.pending.extend(ticks)
        self.accepted += len(events)
        reasons = list(reject_reasons)
        for reason in reasons:
            self.rejects[reason] += 1
        if self.reject_rate is None:
            self.reject_rate = RejectRate(self.topic, self.partition)
        rr = self.reject_rate.update(offset, reasons, model=reject_model, event_time=self.max_event_time)
        self.pending_alerts.extend(rr.alerts)
        self.last_offset = offset
        return True

    def refuse(
        self, offset: int, reasons: Iterable[str] = ("invalid",), *, reject_model: str | None = None
    ) -> bool:
        """Count a message as refused (one reason per event or item) without applying anything
        of it: for a message whose :meth:`apply` raised. Never raises; False if already applied."""
        if offset <= self.last_offset:
            return False
        reasons = list(reasons)
        try:
            return self.apply(offset, (), reasons, reject_model=reject_model)
        except Exception:  # the dead-letter rate failed too: keep the counts and move on
            self.rejects.update(reasons)
            if self.first_offset < 0 and self.last_offset < 0:
                self.first_offset = offset
            self.last_offset = offset
            return True

    def discard_pending(self) -> None:
        """Drop the applied events not yet fed to the monitors (monitors off)."""
        self.pending.clear()
        self._undo.clear()

    def _stats_to_update(self, model: str) -> ModelStats:
        """The model's statistics, checkpointed at their first update since the monitors last ran
        (the roll-back point of :meth:`apply`)."""
        ms = self.models.get(model)
        if model not in self._undo:
            self._undo[model] = (copy.deepcopy(ms), len(self.pending))
        if ms is None:
            ms = self.models[model] = ModelStats()
        return ms

    def _roll_back(self, model: str) -> None:
        """Restore ``model``'s statistics from its checkpoint plus the messages applied since."""
        saved, start = self._undo[model]
        ms = copy.deepcopy(saved) if saved is not None else ModelStats()
        since: list[list[TypedEvent]] = []  # per message, as apply() fed them
        last: Coord | None = None
        for item in self.pending[start:]:
            if isinstance(item, Located) and item.event.model == model:
                if item.coord != last:
                    since.append([])
                    last = item.coord
                since[-1].append(item.event)
        for evs in since:
            ms.update_many(evs)
        if saved is None and not since:
            self.models.pop(model, None)
        else:
            self.models[model] = ms
        self._undo[model] = (copy.deepcopy(ms) if since else saved, len(self.pending))

    def take_alerts(self) -> list[Alert]:
        """Alerts raised while applying messages (not by the model monitors); clears them."""
        out, self.pending_alerts = self.pending_alerts, []
        return out

    def run_monitors(
        self, spec_for: SpecLookup = default_spec, baselines: BaselineLookup | None = None
    ) -> list[tuple[str, MonitorOutput]]:
        """Feed the pending events to each model's monitor (vectorised per model, in log order
        around ticks) and clear them; a tick advances every monitor of the partition.
        ``baselines`` gives each model version's reference baseline (see
        :meth:`~glasswatch.monitor.model_monitor.ModelMonitor.update_many`)."""
        items, self.pending = self.pending, []
        self._undo.clear()
        out: list[tuple[str, MonitorOutput]] = []
        segment: list[Located] = []
        for item in [*items, None]:
            if isinstance(item, Located):
                segment.append(item)
                continue
            by_model: dict[str, list[Located]] = {}
            for rec in segment:
                by_model.setdefault(rec.event.model, []).append(rec)
            segment = []
            for model, recs in by_model.items():
                mon = self.monitors.get(model)
                if mon is None:
                    mon = self.monitors[model] = ModelMonitor(spec_for(model))
                self._feed(out, model, mon, recs, baselines)
            if item is not None:
                for model, mon in self.monitors.items():
                    self._feed(out, model, mon, item)
        return out

    def _feed(
        self,
        out: list[tuple[str, MonitorOutput]],
        model: str,
        mon: ModelMonitor,
        feed: list[Located] | datetime,
        baselines: BaselineLookup | None = None,
    ) -> None:
        """Feed events (or a tick) to one monitor. Late events are recounted as rejected ``late``
        (not accepted); degraded windows and a failing step count in ``monitor_errors``; one
        model's failure never stops the others or the partition."""
        degraded = mon.windows.n_degraded
        try:
            if isinstance(feed, datetime):
                result = mon.advance(feed)
            else:
                result = mon.update_many(feed) if baselines is None else mon.update_many(feed, baselines)
        except Exception as exc:
            self.monitor_errors += 1
            _log.warning(
                "monitor of model %r on %s:%s failed (%s: %s); its events of this batch are skipped",
                model, self.topic, self.partition, type(exc).__name__, exc,
            )  # fmt: skip
            return
        self.monitor_errors += mon.windows.n_degraded - degraded
        for rec in result.late:
            self.accepted -= 1
            self.rejects["late"] += 1
            ms = self.models.get(rec.event.model)
            if ms is not None and ms.events[rec.event.type] > 0:
                ms.events[rec.event.type] -= 1
        if result.alerts and self.topic and self.last_offset >= 0:
            result = result._replace(alerts=[with_state_offsets(a, self.state_range) for a in result.alerts])
        if result.alerts or result.windows or result.late:
            out.append((model, result))

    @property
    def state_range(self) -> OffsetRange:
        """The messages this state was built from: its first applied offset (0 when unknown,
        i.e. from the log's beginning) through the last."""
        first = min(max(self.first_offset, 0), max(self.last_offset, 0))
        last = max(self.last_offset, 0)
        return OffsetRange(topic=self.topic, partition=self.partition, first=first, last=last)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        if state["pending"] or state["pending_alerts"]:
            raise RuntimeError("run_monitors() and take_alerts() before persisting: outputs would be lost")
        state.pop("_undo", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        state.setdefault("reject_rate", None)  # states written before the dead-letter rate existed
        state.setdefault("pending_alerts", [])
        state.setdefault("max_event_time", None)
        state.setdefault("monitor_errors", 0)
        state.setdefault("first_offset", -1)  # unknown: replays start at the log's beginning
        self.__dict__.update(state)
        self._undo = {}
