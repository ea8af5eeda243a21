"""From a signal's decision to an :class:`~glasswatch.schemas.alert.Alert`: kind, evidence, lineage.

The kind follows the signal and the decision's source (``static``, ``dynamic`` or
``detector:<kind>``):

=======================================  ==============================================
``*:missing_rate``                       ``missing_rate`` (static or learned band)
``events:rate``, ``events:gap``          ``event_rate``
``anomaly:rate``                         ``anomaly_rate``
any other signal, static / learned band  ``threshold_static`` / ``threshold_dynamic``
any signal, drift detector               ``drift_detector``
=======================================  ==============================================

:class:`Outage` watches the windows themselves: a model whose windows hold no event at all (the
rate of every signal went to zero) raises ``upstream_outage``.

Examples
--------
>>> alert_kind("feature:age:missing_rate", "dynamic").value
'missing_rate'
>>> alert_kind("feature:age:mean", "detector:adwin").value
'drift_detector'
>>> rate_like("anomaly:rate"), rate_like("feature:age:mean")
(True, False)

A feature's alert names the feature in its evidence, whatever characters the name holds:

>>> from datetime import datetime, timezone
>>> from glasswatch.monitor.thresholds import Decision
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> w = WindowSummary(model="bc", stream="feature:a:b", start=t, end=t, count=10, mean=3.0)
>>> a = make_alert(model="bc", signal="feature:a:b:mean", source="static", severity="warning",
...                decision=Decision("firing", 3.0, (None, 2.0), True, True, 1.0), summary=w, config_hash="h")
>>> a.evidence["feature"], a.signal
('a:b', 'feature:a:b:mean')
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.summary import WindowSummary
from glasswatch.monitor.thresholds import Decision, Latch
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, Severity
from glasswatch.schemas.coords import OffsetRange

__all__ = [
    "FEATURE_STREAM",
    "Outage",
    "alert_kind",
    "make_alert",
    "rate_like",
    "replay_command",
    "resolve_alert",
    "with_state_offsets",
]

FEATURE_STREAM = "feature:"
"""Prefix of a feature's stream (``feature:<name>``) and signals (``feature:<name>:<stat>``). The
name is a data set's column name and may hold ``:`` (``a:b``), so a feature's alert carries it as
``evidence["feature"]`` and nothing splits a signal on ``:`` to find it."""


def rate_like(signal: str) -> bool:
    """Signals that are fractions and only alert upwards (missing rate, category mix, anomaly rate)."""
    return signal.endswith((":missing_rate", ":category_mix")) or signal == "anomaly:rate"


def alert_kind(signal: str, source: str) -> AlertKind:
    if source.startswith("detector:"):
        return AlertKind.DRIFT_DETECTOR
    if signal.endswith(":missing_rate"):
        return AlertKind.MISSING_RATE
    if signal.startswith("events:"):
        return AlertKind.EVENT_RATE
    if signal == "anomaly:rate":
        return AlertKind.ANOMALY_RATE
    return AlertKind.THRESHOLD_STATIC if source == "static" else AlertKind.THRESHOLD_DYNAMIC


def replay_command(
    model: str,
    offsets: tuple[OffsetRange, ...],
    state: tuple[OffsetRange, ...] = (),
    *,
    window: tuple[str, str] | None = None,
) -> str | None:
    """The ``glasswatch replay`` that reproduces an alert, runnable as printed (shell-quoted).

    With the lineage's ``state`` range (see :class:`~glasswatch.schemas.alert.Lineage`) it
    replays from where the partition state began (``--from``) through the message after which
    the worker evaluated the window (``--through``): same state, same window, same alert. Without
    it, the window's ``offsets``; without those, the window's event-time span (``window``: ISO
    start and end); ``None`` when there is nothing to replay.

    >>> w = OffsetRange(topic="p", partition=0, first=72, last=74)
    >>> replay_command("m", (w,), (OffsetRange(topic="p", partition=0, first=0, last=80),))
    'glasswatch replay --model m --offsets p:0:72-74 --from 0 --through 80'
    >>> replay_command("m", (), window=("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"))
    'glasswatch replay --model m --from-time 2026-01-01T00:00:00Z --to-time 2026-01-01T00:01:00Z'
    """
    head = f"glasswatch replay --model {shlex.quote(model)}"
    if state:
        st = state[0]
        shown = [o for o in offsets if o.key == st.key] or [st]
        ranges = "".join(f" --offsets {shlex.quote(_range(o))}" for o in shown)
        return f"{head}{ranges} --from {st.first} --through {st.last}"
    if offsets:
        return head + "".join(f" --offsets {shlex.quote(_range(o))}" for o in offsets)
    if window is not None:
        return f"{head} --from-time {shlex.quote(window[0])} --to-time {shlex.quote(window[1])}"
    return None


def with_state_offsets(alert: Alert, state: OffsetRange) -> Alert:
    """``alert`` with the state range of its lineage set and its ``replay_command`` made from it
    (id, evidence and everything else unchanged)."""
    lineage = alert.lineage.model_copy(update={"state_offsets": (state,)})
    ev = alert.evidence
    window = (str(ev["window_start"]), str(ev["window_end"])) if "window_start" in ev else None
    command = replay_command(alert.model, lineage.offsets, lineage.state_offsets, window=window)
    return alert.model_copy(update={"lineage": lineage, "replay_command": command})


def _range(o: OffsetRange) -> str:
    return f"{o.topic}:{o.partition}:{o.first}-{o.last}"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def make_alert(
    *,
    model: str,
    signal: str,
    source: str,
    decision: Decision,
    severity: str,
    summary: WindowSummary,
    config_hash: str,
    fired_at: datetime | None = None,
    rule: Mapping[str, Any] | None = None,
) -> Alert:
    """A firing alert, or (with ``fired_at``, when the condition opened) its resolve.

    ``rule`` adds what the decision stood on to the evidence: ``baseline`` (``learned``,
    ``reference``, ``accepted`` or ``configured``), the reference's version and digest, the rule's
    parameters and its calibrated false-alarm rate."""
    resolved = fired_at is not None
    lo, hi = decision.band
    evidence: dict[str, Any] = {
        "signal": signal,
        "source": source,
        "value": decision.value,
        "window_start": summary.start.isoformat(),
        "window_end": summary.end.isoformat(),
        "count": summary.count,
        "score": decision.score,
        **(rule or {}),
    }
    if summary.stream.startswith(FEATURE_STREAM):  # the name as it is: it may hold ':' itself
        evidence["feature"] = summary.stream.removeprefix(FEATURE_STREAM)
    if source.startswith("detector:"):
        evidence["detector"] = source.split(":", 1)[1]
        what = f"drift detected by {evidence['detector']} on {signal}"
    else:
        evidence["band" if source == "dynamic" else "threshold"] = [lo, hi]
        what = f"{signal} = {_fmt(decision.value)} outside [{_fmt(lo)}, {_fmt(hi)}]"
    return Alert.build(
        kind=alert_kind(signal, source),
        severity=Severity(severity),
        model=model,
        signal=signal,
        summary=(f"resolved: {signal} back to normal" if resolved else what),
        starts_at=fired_at if fired_at is not None else summary.end,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels={"source": source},
        evidence=evidence,
        lineage=Lineage(
            model_version=summary.model_version, offsets=summary.offsets, config_hash=config_hash
        ),
        replay_command=replay_command(
            model, summary.offsets, window=(evidence["window_start"], evidence["window_end"])
        ),
        ends_at=summary.end if resolved else None,
    )


def resolve_alert(
    *,
    model: str,
    kind: AlertKind,
    signal: str,
    source: str,
    severity: str,
    fired_at: datetime,
    at: datetime,
    reason: str,
    evidence: Mapping[str, Any],
    model_version: str | None,
    offsets: tuple[OffsetRange, ...] = (),
    config_hash: str | None = None,
) -> Alert:
    """The resolve of an open condition that no window closed: its baseline was replaced (a new
    model version's reference, or a person accepted the new normal). ``reason`` becomes the
    summary; ``at`` is the event time it happened."""
    return Alert.build(
        kind=kind,
        severity=Severity(severity),
        model=model,
        signal=signal,
        summary=f"resolved: {reason}",
        starts_at=fired_at,
        status=AlertStatus.RESOLVED,
        labels={"source": source},
        evidence={"signal": signal, "source": source, **evidence},
        lineage=Lineage(model_version=model_version, offsets=offsets, config_hash=config_hash),
        replay_command=replay_command(model, offsets) if offsets else None,
        ends_at=at,
    )


class Outage:
    """``upstream_outage`` (critical): a model's windows hold no event at all, every signal at zero.

    Fed the ``events`` summary of each closed window (:meth:`update` returns the instance), it
    fires after ``hysteresis`` empty windows in a row (the event-rate band's hysteresis: about
    when a silent source's ``event_rate`` alert fires, but also during that band's warm-up) and
    resolves at the first window with events again. The alert's ``model`` is the model, so the
    default inhibit rule mutes that model's per-feature alerts while it fires; its lineage points
    at the last window that had events (where the stream stopped). :attr:`alerts` holds the
    transitions of the last update.

    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> def window(i, n):
    ...     return WindowSummary(model="churn", stream="events", start=t0 + timedelta(minutes=i),
    ...                          end=t0 + timedelta(minutes=i + 1), count=n)
    >>> out = Outage("churn", hysteresis=2)
    >>> [[(a.kind.value, a.status.value, a.model) for a in out.update(window(i, n)).alerts]
    ...  for i, n in enumerate([50, 0, 0, 0, 40])]
    [[], [], [('upstream_outage', 'firing', 'churn')], [], [('upstream_outage', 'resolved', 'churn')]]
    """

    @classmethod
    def of(cls, spec: MonitorSpec, config_hash: str | None = None) -> Outage | None:
        """The outage check of a model's spec: the ``events:rate`` band's hysteresis, off with it."""
        rate = spec.signal("events:rate")
        hysteresis = next((b.hysteresis for b in (rate.dynamic, rate.static) if b is not None), 1)
        return cls(spec.model, hysteresis, config_hash) if rate.enabled else None

    def __init__(self, model: str, hysteresis: int = 2, config_hash: str | None = None) -> None:
        self.model = model
        self.hysteresis = hysteresis
        self.config_hash = config_hash
        self._latch = Latch(hysteresis, 1)
        self._empty = 0
        self._fired_at: datetime | None = None
        self._last_seen: WindowSummary | None = None
        self._alerts: tuple[Alert, ...] = ()

    @property
    def active(self) -> bool:
        return self._latch.active

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The ``upstream_outage`` transitions of the last :meth:`update` (usually none)."""
        return self._alerts

    def update(self, events: WindowSummary) -> Self:
        """Account one closed window's ``events`` summary (``count`` 0: the window was empty)."""
        empty = events.count == 0
        self._empty = self._empty + 1 if empty else 0
        state = self._latch.step(empty)
        self._alerts = ()
        if state == "firing":
            self._fired_at = events.end
            self._alerts = (self._alert(events, None),)
        elif state == "resolved" and self._fired_at is not None:
            self._alerts = (self._alert(events, self._fired_at),)
            self._fired_at = None
        if not empty:
            self._last_seen = events
        return self

    def _alert(self, events: WindowSummary, fired_at: datetime | None) -> Alert:
        last = self._last_seen
        offsets = last.offsets if last is not None else ()
        resolved = fired_at is not None
        return Alert.build(
            kind=AlertKind.UPSTREAM_OUTAGE,
            severity=Severity.CRITICAL,
            model=self.model,
            signal="events",
            summary=(
                f"resolved: events of {self.model} are back ({events.count} in the last window)"
                if resolved
                else f"no events of {self.model} for {self._empty} windows in a row"
            ),
            starts_at=fired_at if fired_at is not None else events.end,
            status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
            evidence={
                "signal": "events",
                "count": events.count,
                "empty_windows": self._empty,
                "window_start": events.start.isoformat(),
                "window_end": events.end.isoformat(),
                "last_events_at": last.end.isoformat() if last is not None else None,
            },
            lineage=Lineage(
                model_version=last.model_version if last is not None else None,
                offsets=offsets,
                config_hash=self.config_hash,
            ),
            replay_command=replay_command(
                self.model, offsets, window=(events.start.isoformat(), events.end.isoformat())
            ),
            ends_at=events.end if resolved else None,
        )
