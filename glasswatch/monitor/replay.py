"""Reproduce what the worker computed from the Kafka messages it read: the glass-box promise.

Monitors are deterministic (same events, same order → same windows, scores and alerts), so
feeding a model's messages of one partition (with the worker's idle ticks, which are in the log
too) to a fresh monitor with the same spec gives back the same alerts, ids included. To
reproduce an alert that needs learned history (bands, detectors), replay from the partition's
first offset (or any offset at least the warm-up windows earlier) up to the alert's window;
to inspect only the window, replay its offset range.

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

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

from glasswatch.ingest.tick_auth import TICK_HEADER, TickAuth, header_value
from glasswatch.ingest.validate import Limits, TickCheck, decode
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import EPOCH, Tick

__all__ = ["Message", "ReplayResult", "replay"]

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


def replay(
    messages: list[Message],
    *,
    model: str,
    spec: MonitorSpec,
    close_open: bool = True,
    tick_auth: TickAuth | None = None,
    trust_ticks: bool = False,
) -> ReplayResult:
    """Decode ``messages`` (one partition, in offset order), keep ``model``'s events and the
    partition's ticks, run them through a fresh :class:`~glasswatch.monitor.partition.PartitionState`
    (exactly the worker's path) and collect statistics, closed windows and alerts. Event times are
    not checked against today's clock: replays are of the past. ``close_open`` closes the windows
    still open at the end (the live worker would close them when later events arrive).

    Ticks are judged as the worker judged them: with ``tick_auth`` (the worker's key) a tick
    counts only with a valid signature header; without it, a tick with the worker's header counts
    (unverifiable here) and one without is refused as ``forged_tick``, as the worker refused it.
    ``trust_ticks`` takes every tick in the log."""
    out = ReplayResult(config_hash=spec.config_hash())
    if not messages:
        return out
    first = messages[0].coord
    state = PartitionState(topic=first.topic, partition=first.partition)
    for m in messages:
        check = None if trust_ticks else _tick_check(m, tick_auth)
        decoded = decode(m.value, now=EPOCH, limits=_NO_SKEW, tick_check=check)  # no clock needed
        out.rejects.update(r.reason for r in decoded.rejects)
        events = [ev for ev in decoded.events if ev.model == model]
        out.events += len(events)
        state.apply(m.coord.offset, events, ticks=decoded.ticks)
    state.take_alerts()  # the dead-letter rate is the partition's, not this model's
    outputs = [o for _, o in state.run_monitors(lambda _: spec)]
    mon = state.monitors.get(model)
    if close_open and mon is not None and state.max_event_time is not None:
        horizon = timedelta(seconds=spec.window.size_seconds + spec.window.allowed_lateness_seconds)
        outputs.append(mon.advance(state.max_event_time + horizon))
    stats = state.models.get(model)
    out.stats = stats.summary() if stats is not None else {}
    for o in outputs:
        out.alerts.extend(o.alerts)
        out.late += len(o.late)
        for w in o.windows:
            out.windows.extend(w.summaries.values())
    return out


def _tick_check(m: Message, auth: TickAuth | None) -> TickCheck:
    def check(tick: Tick) -> bool:
        if auth is None:
            return header_value(m.headers, TICK_HEADER) is not None
        return auth.verify(m.coord.topic, m.coord.partition, tick.event_time, m.headers)

    return check
