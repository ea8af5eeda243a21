"""Where in the event stream a baseline accept applies, the same for the live worker and a replay.

An accept (:class:`~glasswatch.schemas.baseline_accept.BaselineAccept`, ``glasswatch baseline
accept``) makes the current level of some signals the new normal
(:meth:`ModelMonitor.accept <glasswatch.monitor.model_monitor.ModelMonitor.accept>`). What
"current" means depends on which windows the monitor has evaluated, so the point where it
applies must follow from the log alone, never from the worker's batch boundaries (which a replay
cannot know). **The rule:** an accept applies to the monitor of its model in a partition
*just before the first record that moves that monitor's watermark to* ``at`` *or past it* —
an event of the model with ``event_time - allowed_lateness >= at``, or an idle tick at
``>= at + allowed_lateness`` once the monitor exists. Every window evaluated before it was judged
under the old baseline, every window after under the new one. :func:`run_with_accepts` splits a
batch's pending records at those points and runs the monitors segment by segment (chunking changes
no monitor result), applying each accept in between; its resolves carry ``accept_id`` and
``accepted_by`` in their evidence and go out on the alerts topic like every alert. The monitor
records the ids it applied and is written with the partition state, so a restarted worker (or a
re-read topic) applies none twice. A replay (``glasswatch replay``) reads the accepts topic and
feeds its :class:`~glasswatch.monitor.replay.Replayer` an :func:`accepting_state`, so it applies
them at the same records and gives the same alerts, ids and evidence included.

For the worker to know an accept before its point, ``glasswatch baseline accept`` sets ``at`` a
little ahead of the wall clock (``--at`` overrides it) and the worker reads the accepts topic to
its end at the start of every batch (:class:`WorkerAccepts`). **Late accepts:** one the monitor's
watermark has already passed when the worker first sees it (events from producers whose clocks
run ahead, an explicit ``--at`` in the past, the accepts topic unreachable for a while) applies
before the next record reaching that monitor, with ``accept_late: true`` in its resolves' evidence;
a replay, which knows it from the start, applies it at its ``at``, so the windows in between may
replay differently. A late accept more than :data:`LATE_GRACE` behind the watermark is ignored
(an old accept the monitor no longer remembers having applied is not re-applied).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from glasswatch.errors import BrokerError
from glasswatch.kafka.baseline_accepts import AcceptFeed
from glasswatch.monitor.baselines import BaselineLookup
from glasswatch.monitor.model_monitor import MAX_ACCEPTS, ModelMonitor, MonitorOutput
from glasswatch.monitor.partition import PartitionState, SpecLookup, default_spec
from glasswatch.monitor.signal_alert import with_state_offsets
from glasswatch.monitor.windows import Located, to_millis
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.baseline_accept import BaselineAccept
from glasswatch.schemas.events import LabelEvent

__all__ = ["LATE_GRACE", "MAX_MODELS", "AcceptBook", "AcceptingState", "WorkerAccepts", "accepting_state",
           "run_with_accepts"]  # fmt: skip

log = logging.getLogger(__name__)

LATE_GRACE = timedelta(hours=1)
"""How far behind a monitor's watermark a late accept may be and still apply (event time)."""
MAX_MODELS = 10_000
"""Models whose accepts :class:`AcceptBook` keeps (the oldest model is dropped beyond)."""


class AcceptBook:
    """The accepts read so far, per model, in topic order: the last
    :data:`~glasswatch.monitor.model_monitor.MAX_ACCEPTS` of each (as many as a monitor remembers
    having applied) and at most :data:`MAX_MODELS` models.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> book = AcceptBook()
    >>> for i in range(70):
    ...     _ = book.add(BaselineAccept.create(model="m", signal=None, at=t, by="a", created_at=t,
    ...                                        accept_id=f"{i:032x}"))
    >>> len(book.of("m")), book.of("m")[0].id[-2:], book.of("other")
    (64, '06', [])
    """

    def __init__(self) -> None:
        self._by_model: dict[str, dict[str, BaselineAccept]] = {}

    def add(self, accept: BaselineAccept) -> AcceptBook:
        book = self._by_model.setdefault(accept.model, {})
        book.setdefault(accept.id, accept)  # the first record of an id counts
        while len(book) > MAX_ACCEPTS:
            del book[next(iter(book))]
        while len(self._by_model) > MAX_MODELS:
            del self._by_model[next(iter(self._by_model))]
        return self

    def of(self, model: str) -> list[BaselineAccept]:
        return list(self._by_model.get(model, {}).values())

    def for_state(self, state: PartitionState) -> list[BaselineAccept]:
        """The accepts of the models with a monitor or pending events in ``state``."""
        models = dict.fromkeys(state.monitors)
        models.update(dict.fromkeys(i.event.model for i in state.pending if isinstance(i, Located)))
        return [a for m in models for a in self.of(m)]


class WorkerAccepts:
    """The worker's accepts: :meth:`refresh` at the start of each batch reads the topic to its
    end (a failure is logged and the batch goes on with the accepts known)."""

    def __init__(self, feed: AcceptFeed, book: AcceptBook | None = None) -> None:
        self.feed = feed
        self.book = book or AcceptBook()

    @classmethod
    def connect(cls, bootstrap: str, topic: str) -> WorkerAccepts:
        return cls(AcceptFeed(bootstrap, topic))

    async def refresh(self) -> None:
        try:
            for accept in await self.feed.catch_up():
                self.book.add(accept)
        except BrokerError as exc:
            log.warning("baseline accepts unavailable (%s): the batch goes on with those known", exc)

    def for_state(self, state: PartitionState) -> list[BaselineAccept]:
        return self.book.for_state(state)

    async def close(self) -> None:
        await self.feed.close()


def run_with_accepts(
    state: PartitionState,
    accepts: Sequence[BaselineAccept],
    spec_for: SpecLookup = default_spec,
    baselines: BaselineLookup | None = None,
) -> list[tuple[str, MonitorOutput]]:
    """:meth:`PartitionState.run_monitors`, applying each of ``accepts`` not applied yet at its
    point in the pending records (see the module docstring)."""
    items = state.pending
    cuts: dict[int, list[tuple[BaselineAccept, bool]]] = {}
    for accept in accepts:
        found = _point(state, items, accept, spec_for)
        if found is not None:
            cuts.setdefault(found[0], []).append((accept, found[1]))
    if not cuts:
        return PartitionState.run_monitors(state, spec_for, baselines)
    out: list[tuple[str, MonitorOutput]] = []
    start = 0
    for i in sorted(cuts):
        state.pending = items[start:i]
        out += PartitionState.run_monitors(state, spec_for, baselines)
        start = i
        for accept, late in cuts[i]:
            mon = state.monitors.get(accept.model)
            if mon is None:  # its first event is next: the monitor run_monitors would create now
                mon = state.monitors[accept.model] = ModelMonitor(spec_for(accept.model))
            alerts = [_stamp(state, a, accept, late) for a in mon.accept(accept.signal, at=accept.at,
                                                                        accept_id=accept.id)]  # fmt: skip
            if late:
                log.warning("baseline accept %s of %r applied late (its monitor had passed %s)",
                            accept.id, accept.model, accept.at.isoformat())  # fmt: skip
            if alerts:
                out.append((accept.model, MonitorOutput(alerts, [], [])))
    state.pending = items[start:]
    return out + PartitionState.run_monitors(state, spec_for, baselines)


def _point(
    state: PartitionState, items: list[Located | datetime], accept: BaselineAccept, spec_for: SpecLookup
) -> tuple[int, bool] | None:
    """(index of the pending record before which ``accept`` applies, whether it is late), or
    ``None``: already applied, ignored (too late), or its point is not in this batch."""
    mon = state.monitors.get(accept.model)
    if mon is not None and accept.id in mon.accepted:
        return None
    spec = mon.spec if mon is not None else spec_for(accept.model)
    lateness = round(spec.window.allowed_lateness_seconds * 1000)
    at = to_millis(accept.at)
    watermark = mon.windows.watermark if mon is not None else None
    late = watermark is not None and to_millis(watermark) >= at
    if late and watermark is not None and watermark - accept.at > LATE_GRACE:
        return None
    exists = mon is not None
    for i, item in enumerate(items):
        if isinstance(item, Located):
            ev = item.event
            if ev.model != accept.model or isinstance(ev, LabelEvent):
                continue
            if late or to_millis(ev.event_time) - lateness >= at:
                return i, late
            exists = True
        elif exists and (late or to_millis(item) - lateness >= at):  # an idle tick
            return i, late
    return None


def _stamp(state: PartitionState, alert: Alert, accept: BaselineAccept, late: bool) -> Alert:
    """The resolve of an accept with the accept in its evidence and the state's offsets."""
    evidence = {**alert.evidence, "accept_id": accept.id, "accepted_by": accept.by}
    if late:
        evidence["accept_late"] = True
    alert = alert.model_copy(update={"evidence": evidence})
    if state.topic and state.last_offset >= 0:
        alert = with_state_offsets(alert, state.state_range)
    return alert


@dataclass
class AcceptingState(PartitionState):
    """A partition state whose :meth:`run_monitors` applies ``accepts`` (for replays: the
    :class:`~glasswatch.monitor.replay.Replayer` runs the state it is given). Never persisted."""

    accepts: tuple[BaselineAccept, ...] = ()

    def run_monitors(
        self, spec_for: SpecLookup = default_spec, baselines: BaselineLookup | None = None
    ) -> list[tuple[str, MonitorOutput]]:
        return run_with_accepts(self, self.accepts, spec_for, baselines)


def accepting_state(topic: str, partition: int, accepts: Sequence[BaselineAccept]) -> AcceptingState:
    """A fresh state of ``topic[partition]`` that applies ``accepts`` (set it as a replayer's
    ``state`` before its first update)."""
    return AcceptingState(topic=topic, partition=partition, accepts=tuple(accepts))
