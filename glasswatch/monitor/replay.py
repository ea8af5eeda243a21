"""Reproduce what the worker computed from the Kafka messages it read: the glass-box promise.

Monitors are deterministic (same events, same order → same windows, scores and alerts), so
feeding a model's messages of one partition (with the worker's idle ticks, which are in the log
too) to a fresh monitor with the same spec gives back the same alerts, ids included. To
reproduce an alert that needs learned history (bands, detectors), replay from the partition's
state's first offset through the message after which the worker evaluated the alert's window:
the alert's lineage records both (``state_offsets``) and its ``replay_command`` replays them.
:class:`Replayer` feeds messages in chunks (for progress, and to read on until a window closes).
An alert judged against a version's reference (``evidence["baseline"] == "reference"``) replays
identically when the replay is given the worker's ``baselines`` lookup (the same reference gives
the same :class:`~glasswatch.monitor.baselines.Baseline`); ``glasswatch replay`` builds it as the
worker does.

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.monitor.specs import MonitorSpec
>>> from glasswatch.testing.traffic import TrafficGenerator
>>> import orjson
>>> gen = TrafficGenerator(model="m", seed=1, start=datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> from glasswatch.schemas.coords import Coord
>>> msgs = [Message(Coord("p", 0, i), orjson.dumps(gen.event(i))) for i in range(300)]
>>> msgs.append(Message(Coord("p", 0, 300), b"{"))
>>> r = replay(msgs, model="m", spec=MonitorSpec(model="m", window={"size_seconds": 1}))
>>> r.events, dict(r.rejects), len(r.windows) > 0, r.stats["features"]["age"]["count"]
(300, {'not_json': 1}, True, 300)
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Self

from glasswatch.ingest.tick_auth import TICK_HEADER, TickAuth, header_value
from glasswatch.ingest.validate import Limits, TickCheck, decode
from glasswatch.monitor.baselines import BaselineLookup
from glasswatch.monitor.model_monitor import MonitorOutput
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import EPOCH, Tick

__all__ = ["Message", "ReplayResult", "Replayer", "replay"]

_NO_SKEW = Limits(max_clock_skew_s=math.inf, max_age_s=math.inf)


class Message(NamedTuple):
    """A record read from Kafka: its coordinates, value, key and headers."""

    coord: Coord
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class ReplayResult:
    events: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)
    windows: list[WindowSummary] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    late: int = 0
    config_hash: str = ""
    messages: int = 0
    closed_early: bool = False
    """Windows still open at the end were closed by :meth:`Replayer.result` (``close_open``): their
    values may differ from the worker's, which closed them with later events."""


class Replayer:
    """The streaming form of :func:`replay`: feed messages of one partition in offset order with
    :meth:`update` (any chunking: batch boundaries change nothing), then take :meth:`result`.

    >>> from datetime import datetime, timezone
    >>> from glasswatch.monitor.specs import MonitorSpec
    >>> from glasswatch.testing.traffic import TrafficGenerator
    >>> import orjson
    >>> gen = TrafficGenerator(model="m", seed=1, start=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> msgs = [Message(Coord("p", 0, i), orjson.dumps(gen.event(i))) for i in range(300)]
    >>> r = Replayer(model="m", spec=MonitorSpec(model="m", window={"size_seconds": 1}))
    >>> r.update(msgs[:250]).covered(150), r.covered(249), r.update(msgs[250:]).messages
    (True, False, 300)
    """

    def __init__(
        self,
        *,
        model: str,
        spec: MonitorSpec,
        tick_auth: TickAuth | None = None,
        trust_ticks: bool = False,
        baselines: BaselineLookup | None = None,
    ) -> None:
        self.model = model
        self.spec = spec
        self.tick_auth = tick_auth
        self.trust_ticks = trust_ticks
        self.baselines = baselines
        """The worker's reference baselines (``None``: learned bands only); may block (a replay
        has no event loop to keep free)."""
        self.state: PartitionState | None = None
        self._out = ReplayResult(config_hash=spec.config_hash())
        self._offsets: list[int] = []  # offsets with events of the model, ascending, and
        self._latest: list[datetime] = []  # the latest event time of the model up to each

    @property
    def messages(self) -> int:
        return self._out.messages

    @property
    def last_offset(self) -> int:
        return -1 if self.state is None else self.state.last_offset

    def update(self, messages: Iterable[Message]) -> Self:
        """Apply ``messages`` exactly as the worker does, then run the monitors on them."""
        state, out, model = self.state, self._out, self.model
        latest = self._latest[-1] if self._latest else None
        for m in messages:
            if state is None:
                state = self.state = PartitionState(topic=m.coord.topic, partition=m.coord.partition)
            check = None if self.trust_ticks else _tick_check(m, self.tick_auth)
            decoded = decode(m.value, now=EPOCH, limits=_NO_SKEW, tick_check=check)  # no clock needed
            out.rejects.update(r.reason for r in decoded.rejects)
            events = [ev for ev in decoded.events if ev.model == model]
            out.events += len(events)
            out.messages += 1
            if state.apply(m.coord.offset, events, ticks=decoded.ticks) and events:
                t = max(ev.event_time for ev in events)
                latest = t if latest is None or t > latest else latest
                self._offsets.append(m.coord.offset)
                self._latest.append(latest)
        if state is not None:
            state.take_alerts()  # the dead-letter rate is the partition's, not this model's
            self._collect([o for _, o in state.run_monitors(lambda _: self.spec, self.baselines)])
        return self

    def covered(self, offset: int) -> bool:
        """Whether every window holding the model's events up to ``offset`` has closed (then
        reading further cannot change them)."""
        mon = None if self.state is None else self.state.monitors.get(self.model)
        i = bisect.bisect_right(self._offsets, offset)
        return mon is None or i == 0 or mon.windows.is_late(self._latest[i - 1])

    def result(self, close_open: bool = True) -> ReplayResult:
        """What the replay found; ``close_open`` first closes the windows still open (the live
        worker would close them when later events arrive; marked ``closed_early``)."""
        out, state = self._out, self.state
        if state is None:
            return out
        mon = state.monitors.get(self.model)
        if close_open and mon is not None and state.max_event_time is not None:
            spec = self.spec
            horizon = timedelta(seconds=spec.window.size_seconds + spec.window.allowed_lateness_seconds)
            before = len(out.windows)
            self._collect([mon.advance(state.max_event_time + horizon)])
            out.closed_early = out.closed_early or len(out.windows) > before
        stats = state.models.get(self.model)
        out.stats = stats.summary() if stats is not None else {}
        return out

    def _collect(self, outputs: list[MonitorOutput]) -> None:
        out = self._out
        for o in outputs:
            out.alerts.extend(o.alerts)
            out.late += len(o.late)
            for w in o.windows:
                out.windows.extend(w.summaries.values())


def replay(
    messages: list[Message],
    *,
    model: str,
    spec: MonitorSpec,
    close_open: bool = True,
    tick_auth: TickAuth | None = None,
    trust_ticks: bool = False,
    baselines: BaselineLookup | None = None,
) -> ReplayResult:
    """Decode ``messages`` (one partition, in offset order), keep ``model``'s events and the
    partition's ticks, run them through a fresh :class:`~glasswatch.monitor.partition.PartitionState`
    (exactly the worker's path) and collect statistics, closed windows and alerts. Event times are
    not checked against today's clock: replays are of the past. ``close_open`` closes the windows
    still open at the end (the live worker would close them when later events arrive).

    Ticks are judged as the worker judged them: with ``tick_auth`` (the worker's key) a tick
    counts only with a valid signature header; without it, a tick with the worker's header counts
    (unverifiable here) and one without is refused as ``forged_tick``, as the worker refused it.
    ``trust_ticks`` takes every tick in the log. ``baselines``: the reference baselines the
    worker used (see the module docstring)."""
    r = Replayer(model=model, spec=spec, tick_auth=tick_auth, trust_ticks=trust_ticks, baselines=baselines)
    return r.update(messages).result(close_open)


def _tick_check(m: Message, auth: TickAuth | None) -> TickCheck:
    def check(tick: Tick) -> bool:
        if auth is None:
            return header_value(m.headers, TICK_HEADER) is not None
        return auth.verify(m.coord.topic, m.coord.partition, tick.event_time, m.headers)

    return check
