"""``ModelMonitor``: windows, thresholds, drift detectors and anomaly scoring for one model.

Feed it events with their Kafka coordinates; it returns alerts (firing *and* resolved), the events
that arrived too late (send them to the dead-letter topic, reason ``late``) and the closed window
summaries (for the windows topic). Each closed window yields *signals* (see
:mod:`glasswatch.monitor.specs`), and each signal runs its static band, learned band and drift
detectors (:mod:`glasswatch.monitor.signal_state`). The kind of an alert follows the signal and the source:

=======================================  ==============================================
``*:missing_rate``                       ``missing_rate`` (static or learned band)
``events:rate``, ``events:gap``          ``event_rate``
``anomaly:rate``                         ``anomaly_rate``
``*:category_mix`` (excess total var.)   ``threshold_dynamic``
any other signal, static / learned band  ``threshold_static`` / ``threshold_dynamic``
any signal, drift detector               ``drift_detector``
=======================================  ==============================================

Empty windows (the model went silent) also raise ``upstream_outage``, next to ``event_rate``
(:class:`~glasswatch.monitor.signal_alert.Outage`; on when the ``events:rate`` signal is).

One fingerprint (model, kind, signal) is one condition: it fires once when its first source fires
and resolves when its last source resolves, so the same condition never has two open alerts.
Rate-like signals (missing rate, category mix) only alert upwards. A condition stays open while
its signal stays outside the baseline it was raised against (bands and detectors freeze their
baseline while firing).

**Baselines.** Without a reference every band and detector learns its baseline from its first
``warmup`` windows. Given a :data:`~glasswatch.monitor.baselines.BaselineLookup`,
:meth:`ModelMonitor.update_many` asks it about each model version it meets, until the version has
a baseline (at most once per version per call; versions with one are remembered, the last
:data:`MAX_VERSIONS` of them, so a version without a reference costs the monitor no state: the
lookup's own cache answers it, a version registered later is picked up, and a worker and a replay
without any lookup hold equal state) and :meth:`ModelMonitor.rebaseline` arms the
feature and prediction signals, the category mixes and the anomaly scorer from that version's
reference (no warm-up; conditions open under the old baseline resolve). A version without a
reference keeps the baseline in force. :meth:`ModelMonitor.accept` takes the current level of the
matching signals as the new normal (``glasswatch baseline accept``); each accept applies once
(by id). Every alert's evidence says which baseline it was judged against.

The monitor holds no clock, lock or handle: ``pickle.dumps(monitor)`` is its full state, and a
restored monitor continues exactly like the original (:meth:`state_digest` compares two).

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.monitor.specs import MonitorSpec, SignalSpec, StaticBounds
>>> from glasswatch.schemas.coords import Coord
>>> from glasswatch.schemas.events import PredictionEvent
>>> spec = MonitorSpec(model="m", window={"size_seconds": 10}, anomaly={"enabled": False},
...                    default=SignalSpec(dynamic=None, detectors=()),
...                    signals={"prediction:mean": SignalSpec(static=StaticBounds(upper=0.8),
...                                                          dynamic=None, detectors=())})
>>> mon = ModelMonitor(spec)
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> recs = [Located(PredictionEvent(model="m", model_version="7", prediction_id=str(i),
...                                 event_time=t0 + timedelta(seconds=i),
...                                 prediction=0.5 if i < 20 else 0.9), Coord("predictions", 0, i))
...         for i in range(45)]
>>> out = mon.update_many(recs)
>>> [(a.kind.value, a.signal, a.status.value, a.evidence["window_start"]) for a in out.alerts]
[('threshold_static', 'prediction:mean', 'firing', '2026-01-01T00:00:20+00:00')]
>>> out.alerts[0].lineage.offsets[0].first, out.alerts[0].lineage.offsets[0].last
(20, 29)
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Self

from glasswatch.monitor.anomaly import AnomalyScorer
from glasswatch.monitor.baselines import Baseline, BaselineLookup, SignalBaseline
from glasswatch.monitor.category_mix import CategoryMix
from glasswatch.monitor.closed_window import ClosedWindow
from glasswatch.monitor.digest import state_digest
from glasswatch.monitor.signal_alert import Outage, alert_kind, make_alert, resolve_alert
from glasswatch.monitor.signal_state import SignalState, rule_of, signal_values
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.summary import WindowSummary
from glasswatch.monitor.thresholds import Decision
from glasswatch.monitor.windows import Located, WindowAggregator
from glasswatch.schemas.alert import Alert, fingerprint_of
from glasswatch.schemas.coords import OffsetRange
from glasswatch.schemas.events import LabelEvent, PredictionEvent

__all__ = ["MAX_ACCEPTS", "MAX_VERSIONS", "Located", "ModelMonitor", "MonitorOutput"]

MAX_VERSIONS = 16
"""Model versions a monitor remembers having looked up (a producer may invent versions)."""
MAX_ACCEPTS = 64
"""Accept ids a monitor remembers having applied (so a re-read accept applies once)."""


class MonitorOutput(NamedTuple):
    alerts: list[Alert]
    late: list[Located]
    windows: list[ClosedWindow]


_NOTHING = MonitorOutput([], [], [])


@dataclass
class _Open:
    starts_at: datetime
    sources: dict[str, None] = field(default_factory=dict)


class ModelMonitor:
    """Online monitor of one model; ``spec`` is kept verbatim (see the module docstring)."""

    def __init__(self, spec: MonitorSpec) -> None:
        self.spec = spec
        w, a = spec.window, spec.anomaly
        self.windows = WindowAggregator(
            spec.model,
            w.size_seconds,
            w.hop_seconds,
            w.allowed_lateness_seconds,
            spec.features,
            spec.categorical,
            w.max_empty_windows,
            spec.seed,
        )
        self.scorer = (
            AnomalyScorer(
                a.features, a.warmup_events, a.q, a.n_trees, a.height, a.window_size, a.stride, spec.seed
            )
            if a.enabled
            else None
        )
        self.config_hash = spec.config_hash()
        self.outage = Outage.of(spec, self.config_hash)
        self._signals: dict[str, SignalState | None] = {}
        self._mixes: dict[str, CategoryMix] = {}
        self._open: dict[str, _Open] = {}
        self.reference: tuple[str, str] | None = None
        """(version, digest) of the reference baseline in force, ``None`` while learned."""
        self._versions: dict[str, str] = {}
        """Version -> digest of the versions met that had a reference (bounded)."""
        self.accepted: list[str] = []

    def __getstate__(self) -> dict[str, Any]:
        """The monitor's state without the last update's result (a transient, not state)."""
        return {k: v for k, v in self.__dict__.items() if k != "_output"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore; a snapshot from before the outage check gets one (counting from now on)."""
        self.__dict__.update(state)
        if "outage" not in state:
            self.outage = Outage.of(self.spec, self.config_hash)
        self.__dict__.setdefault("reference", None)
        self.__dict__.setdefault("_versions", {})
        self.__dict__.setdefault("accepted", [])

    @property
    def output(self) -> MonitorOutput:
        """What the last :meth:`update` produced (alerts, late events, closed windows)."""
        return getattr(self, "_output", _NOTHING)

    def update(self, record: Located) -> Self:
        """River shape: add one event, evaluate the windows it closed; the result is :attr:`output`."""
        self._output = self.update_many((record,))
        return self

    @property
    def open_alerts(self) -> dict[str, datetime]:
        """Fingerprint -> start of every open condition."""
        return {fp: o.starts_at for fp, o in self._open.items()}

    def state_digest(self) -> str:
        """SHA-256 of the monitor's full state in a canonical form (equal state, equal digest)."""
        return state_digest(self)

    def update_many(
        self, records: Sequence[Located], baselines: BaselineLookup | None = None
    ) -> MonitorOutput:
        """Add a batch of events (in arrival order) and evaluate every window that closed.

        Label events are skipped; an event of another model raises ``ValueError``. With
        ``baselines``, the first prediction of a model version not met before re-baselines the
        monitor from that version's reference (see the module docstring).
        """
        late: list[Located] = []
        alerts: list[Alert] = []
        windows = self.windows
        model = self.spec.model
        versions = self._versions
        asked: set[str] = set()  # versions without a baseline: asked once per call
        for rec in records:
            ev = rec.event
            if isinstance(ev, LabelEvent):
                continue
            if ev.model != model:
                raise ValueError(f"event of model {ev.model!r} fed to the monitor of {model!r}")
            if (
                baselines is not None
                and isinstance(ev, PredictionEvent)
                and ev.model_version not in versions
                and ev.model_version not in asked
            ):
                asked.add(ev.model_version)
                alerts.extend(self._meet_version(ev.model_version, baselines, rec))
            scorer = self.scorer
            t = windows.accept(rec)
            if t is None:
                late.append(rec)
            elif scorer is not None:
                windows.add(rec, t, {"anomaly": scorer.update(ev.features).flag})
            else:
                windows.add(rec, t)
        closed = windows.flush()
        return MonitorOutput(alerts + self._evaluate(closed), late, closed)

    def advance(self, event_time: datetime) -> MonitorOutput:
        """Close windows up to ``event_time`` when input is idle (the caller owns the clock)."""
        closed = self.windows.advance(event_time)
        return MonitorOutput(self._evaluate(closed), [], closed)

    # -- baselines ---------------------------------------------------------------------------

    def _meet_version(self, version: str, lookup: BaselineLookup, rec: Located) -> list[Alert]:
        found = lookup(self.spec.model, version)
        if found is None:
            return []
        self._versions[version] = found.digest
        while len(self._versions) > MAX_VERSIONS:
            del self._versions[next(iter(self._versions))]
        if self.reference == (found.version, found.digest):
            return []
        offsets = (OffsetRange(topic=rec.coord.topic, partition=rec.coord.partition,
                               first=rec.coord.offset, last=rec.coord.offset),)  # fmt: skip
        return self.rebaseline(found, at=rec.event.event_time, offsets=offsets)

    def rebaseline(
        self, baseline: Baseline, *, at: datetime | None = None, offsets: tuple[OffsetRange, ...] = ()
    ) -> list[Alert]:
        """Arm every signal ``baseline`` covers, the category mixes and the anomaly scorer from the
        reference; returns the resolves of the conditions this closed (at event time ``at``)."""
        reason = f"re-baselined from the reference of version {baseline.version}"
        alerts: list[Alert] = []
        for name, sb in sorted(baseline.signals.items()):
            if (state := self._state(name)) is not None:
                alerts += self._close(name, state.seed(sb), reason, at, baseline.version, offsets)
        for name, freqs in sorted(baseline.mixes.items()):
            sig = self.spec.signal(name)
            mix = CategoryMix(sig.dynamic.alpha if sig.dynamic else 0.05).update(dict(freqs))
            self._mixes[name] = mix
            mix.n = max(mix.n, math.ceil(1 / mix.alpha))  # the reference counts as a learned history
        if self.scorer is not None and baseline.rows and hasattr(self.scorer, "fit"):
            alerts += self._rebaseline_anomaly(baseline, reason, at, offsets)
        self.reference = (baseline.version, baseline.digest)
        return alerts

    def _rebaseline_anomaly(
        self, baseline: Baseline, reason: str, at: datetime | None, offsets: tuple[OffsetRange, ...]
    ) -> list[Alert]:
        a = self.spec.anomaly
        self.scorer = AnomalyScorer(a.features, a.warmup_events, a.q, a.n_trees, a.height, a.window_size,
                                    a.stride, self.spec.seed).fit(baseline.rows)  # fmt: skip
        state = self._state("anomaly:rate")
        if state is None:
            return []
        p = float(getattr(self.scorer, "expected_rate", 1 - a.q))
        n = baseline.window_events
        sb = SignalBaseline(p, math.sqrt(max(p * (1 - p), 1e-6) * a.stride / n), float(n))
        return self._close("anomaly:rate", state.seed(sb), reason, at, baseline.version, offsets)

    def accept(self, pattern: str | None, *, at: datetime, accept_id: str) -> list[Alert]:
        """Take the current level of every signal matching ``pattern`` (``fnmatch``; ``None``: all)
        as the new normal; returns the resolves of the conditions this closed. An ``accept_id``
        already applied is ignored (re-reading the accepts topic is harmless)."""
        if accept_id in self.accepted:
            return []
        self.accepted = [*self.accepted, accept_id][-MAX_ACCEPTS:]
        alerts: list[Alert] = []
        for name, state in sorted(self._signals.items()):
            if state is not None and fnmatch.fnmatchcase(name, pattern or "*"):
                reason = f"new normal accepted for {name} (accept {accept_id})"
                alerts += self._close(name, state.accept(), reason, at, None, ())
        return alerts

    def _close(
        self,
        name: str,
        sources: list[str],
        reason: str,
        at: datetime | None,
        version: str | None,
        offsets: tuple[OffsetRange, ...],
    ) -> list[Alert]:
        """Resolve the open condition of each source of ``name`` whose baseline was replaced."""
        alerts = []
        for source in sources:
            kind = alert_kind(name, source)
            fp = fingerprint_of(self.spec.model, kind.value, name)
            opened = self._open.get(fp)
            if opened is None or source not in opened.sources:
                continue
            del opened.sources[source]
            if opened.sources:
                continue
            del self._open[fp]
            alerts.append(resolve_alert(
                model=self.spec.model, kind=kind, signal=name, source=source,
                severity=self.spec.signal(name).severity, fired_at=opened.starts_at,
                at=at or opened.starts_at, reason=reason, evidence={"baseline_change": reason},
                model_version=version, offsets=offsets, config_hash=self.config_hash,
            ))  # fmt: skip
        return alerts

    def _rule(self, state: SignalState, source: str) -> dict[str, Any]:
        """What a decision of ``source`` stood on, for the alert's evidence."""
        baseline = state.baseline_of(source)
        rule: dict[str, Any] = {"baseline": baseline}
        if baseline == "reference" and self.reference is not None:
            rule["reference_version"], rule["reference_sha256"] = self.reference
        rule["rule"] = rule_of(state, source)
        return rule

    # -- evaluation ------------------------------------------------------------------------

    def _evaluate(self, closed: list[ClosedWindow]) -> list[Alert]:
        alerts: list[Alert] = []
        first = self.windows.first_event_time
        for window in closed:
            partial = first is not None and window.start < first  # the stream began mid-window
            for stream, summary in window.summaries.items():
                for name, value in signal_values(self.spec, self._mixes, stream, summary):
                    if partial and name == "events:rate":
                        continue  # a partial first window would teach a low rate
                    alerts.extend(self._check(name, value, summary, window))
                    if name.endswith(":category_mix"):
                        self._learn_mix(name, summary)
            if self.outage is not None:
                alerts.extend(self.outage.update(window.summaries["events"]).alerts)
        return alerts

    def _learn_mix(self, name: str, s: WindowSummary) -> None:
        """Learn the window's mix unless this window breached or the condition is open."""
        mix = self._mixes.get(name)
        if mix is None or not s.categories:
            return
        state = self._signals.get(name)
        quiet = state is None or not any(d.active or d.breaching for _, d in state.decisions)
        if quiet or not mix.n:
            mix.update(s.categories)

    def _state(self, name: str) -> SignalState | None:
        if name in self._signals:
            return self._signals[name]
        spec = self.spec.signal(name)
        state = SignalState.of(spec, name, self.spec.seed) if spec.enabled else None
        self._signals[name] = state
        return state

    def _check(self, name: str, value: float | None, s: WindowSummary, w: ClosedWindow) -> list[Alert]:
        state = self._state(name)
        if state is None:
            return []
        n = None if name == "events:rate" else s.count  # sampling noise of averages ~ 1/sqrt(n)
        alerts = []
        for source, decision in state.update(value, n).decisions:
            if decision.state == "none":
                continue
            kind = alert_kind(name, source)
            fp = fingerprint_of(self.spec.model, kind.value, name)
            opened = self._open.get(fp)
            if decision.state == "firing":
                if opened is None:
                    self._open[fp] = _Open(w.end, {source: None})
                    alerts.append(self._alert(name, source, decision, state, s, None))
                else:
                    opened.sources[source] = None
            elif opened is not None and source in opened.sources:
                del opened.sources[source]
                if not opened.sources:
                    del self._open[fp]
                    fired = opened.starts_at
                    alerts.append(self._alert(name, source, decision, state, s, fired))
        return alerts

    def _alert(
        self,
        name: str,
        source: str,
        d: Decision,
        state: SignalState,
        s: WindowSummary,
        fired: datetime | None,
    ) -> Alert:
        return make_alert(
            model=self.spec.model,
            signal=name,
            source=source,
            decision=d,
            severity=state.spec.severity,
            summary=s,
            config_hash=self.config_hash,
            fired_at=fired,
            rule=self._rule(state, source),
        )
