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

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from glasswatch.ingest.reject_rate import RejectRate
from glasswatch.monitor.model_monitor import ModelMonitor, MonitorOutput
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.stats import ModelStats
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.events import FeatureEvent, LabelEvent, PredictionEvent

__all__ = ["PartitionState", "SpecLookup"]

TypedEvent = PredictionEvent | FeatureEvent | LabelEvent
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
    """Dead-letter rate of this partition (``dead_letters`` alerts), created on first use."""
    pending_alerts: list[Alert] = field(default_factory=list, repr=False)
    """Alerts raised by :meth:`apply` (dead-letter rate), handed out by :meth:`take_alerts`."""

    def seen(self, offset: int) -> bool:
        return offset <= self.last_offset

    def apply(
        self,
        offset: int,
        events: Iterable[TypedEvent],
        reject_reasons: Iterable[str] = (),
        ticks: Iterable[datetime] = (),
    ) -> bool:
        """Apply one message's outcome; returns False (and does nothing) if already applied.

        ``ticks`` are control ticks (:class:`~glasswatch.schemas.events.Tick`): at their place in
        the log every monitor of the partition advances its event time to them.
        """
        if offset <= self.last_offset:
            return False
        by_model: dict[str, list[TypedEvent]] = {}
        for event in events:
            by_model.setdefault(event.model, []).append(event)
            self.pending.append(Located(event, self.topic, self.partition, offset))
            if self.max_event_time is None or event.event_time > self.max_event_time:
                self.max_event_time = event.event_time
        self.pending.extend(ticks)
        for model, evs in by_model.items():
            ms = self.models.get(model)
            if ms is None:
                ms = self.models[model] = ModelStats()
            ms.update_many(evs)
            self.accepted += len(evs)
        reasons = list(reject_reasons)
        for reason in reasons:
            self.rejects[reason] += 1
        if self.reject_rate is None:
            self.reject_rate = RejectRate(self.topic, self.partition)
        for evs in by_model.values():
            self.reject_rate.observe_time(max(e.event_time for e in evs))
        self.pending_alerts.extend(self.reject_rate.update(offset, reasons))
        self.last_offset = offset
        return True

    def take_alerts(self) -> list[Alert]:
        """Alerts raised while applying messages (not by the model monitors); clears them."""
        out, self.pending_alerts = self.pending_alerts, []
        return out

    def run_monitors(self, spec_for: SpecLookup = default_spec) -> list[tuple[str, MonitorOutput]]:
        """Feed the pending events to each model's monitor (vectorised per model, in log order
        around ticks) and clear them; a tick advances every monitor of the partition."""
        items, self.pending = self.pending, []
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
                out.append((model, mon.update_many(recs)))
            if item is not None:
                for model, mon in self.monitors.items():
                    advanced = mon.advance(item)
                    if advanced.alerts or advanced.windows:
                        out.append((model, advanced))
        return out

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        if state["pending"] or state["pending_alerts"]:
            raise RuntimeError("run_monitors() and take_alerts() before persisting: outputs would be lost")
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        state.setdefault("reject_rate", None)  # states written before the dead-letter rate existed
        state.setdefault("pending_alerts", [])
        state.setdefault("max_event_time", None)
        self.__dict__.update(state)
