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
>>> msgs = [Message("p", 0, i, orjson.dumps(gen.event(i))) for i in range(300)] + [Message("p", 0, 300, b"{")]
>>> r = replay(msgs, model="m", spec=MonitorSpec(model="m", window={"size_seconds": 1}))
>>> r.events, dict(r.rejects), len(r.windows) > 0, r.stats["features"]["age"]["count"]
(300, {'not_json': 1}, True, 300)
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from glasswatch.ingest.validate import Limits, decode
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.alert import Alert

__all__ = ["Message", "ReplayResult", "replay"]

_NO_SKEW = Limits(max_clock_skew_s=math.inf, max_age_s=math.inf)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None


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
    messages: list[Message], *, model: str, spec: MonitorSpec, close_open: bool = True
) -> ReplayResult:
    """Decode ``messages`` (one partition, in offset order), keep ``model``'s events and the
    partition's ticks, run them through a fresh :class:`~glasswatch.monitor.partition.PartitionState`
    (exactly the worker's path) and collect statistics, closed windows and alerts. Event times are
    not checked against today's clock: replays are of the past. ``close_open`` closes the windows
    still open at the end (the live worker would close them when later events arrive)."""
    out = ReplayResult(config_hash=spec.config_hash())
    if not messages:
        return out
    state = PartitionState(topic=messages[0].topic, partition=messages[0].partition)
    for m in messages:
        decoded = decode(m.value, now=_EPOCH, limits=_NO_SKEW)  # no skew limit: no clock needed
        out.rejects.update(r.reason for r in decoded.rejects)
        events = [ev for ev in decoded.events if ev.model == model]
        out.events += len(events)
        state.apply(m.offset, events, ticks=decoded.ticks)
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
