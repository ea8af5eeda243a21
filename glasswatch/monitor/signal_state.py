"""The signals of a closed window and the state that judges each one.

:func:`signal_values` turns one stream's :class:`~glasswatch.monitor.summary.WindowSummary` into the
signals its :class:`~glasswatch.monitor.specs.MonitorSpec` watches (``feature:age:mean``,
``events:rate``, ``feature:segment:category_mix``, ...); a category mix is the distance of the
window's mix from the one learned so far (:class:`~glasswatch.monitor.category_mix.CategoryMix`).
Each enabled signal has a :class:`SignalState`: the static band, learned band and drift detectors
its :class:`~glasswatch.monitor.specs.SignalSpec` asks for. Rate-like signals (missing rate,
category mix) only alert upwards; the anomaly rate alerts both ways (a covariate shift can raise
or lower it). Every band and detector has a floor: rate-like signals an absolute one
(:data:`RATE_FLOOR`), every signal a relative one (:data:`REL_FLOOR`, larger for the event rate,
whose perfectly regular arrivals would otherwise learn a zero-width band). :meth:`SignalState.seed`
starts a signal from its reference baseline (:mod:`glasswatch.monitor.baselines`) and
:meth:`SignalState.accept` takes the current level as the new normal. Which alert a decision
raises, and when a condition resolves, is :class:`~glasswatch.monitor.model_monitor.ModelMonitor`'s.

Examples
--------
>>> from glasswatch.monitor.specs import SignalSpec, StaticBounds
>>> spec = SignalSpec(static=StaticBounds(upper=0.8), dynamic=None, detectors=())
>>> state = SignalState.of(spec, "prediction:mean", seed=0)
>>> [(source, d.state) for source, d in state.update(0.5, n=100).decisions]
[('static', 'none')]
>>> [(source, d.state) for source, d in state.update(0.9, n=100).decisions]
[('static', 'firing')]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Self

from glasswatch.monitor.baselines import SignalBaseline
from glasswatch.monitor.category_mix import CategoryMix
from glasswatch.monitor.detectors import DEFAULT_PARAMS, DriftDetector
from glasswatch.monitor.false_alarms import CALIBRATED_FALSE_ALARMS_PER_100K
from glasswatch.monitor.signal_alert import rate_like
from glasswatch.monitor.specs import DynamicParams, MonitorSpec, SignalSpec
from glasswatch.monitor.summary import WindowSummary
from glasswatch.monitor.thresholds import Decision, DynamicThreshold, StaticThreshold

__all__ = ["DEFAULT_K", "RATE_FLOOR", "REL_FLOOR", "SignalState", "rule_of", "signal_values"]

DEFAULT_K = DynamicParams().k
"""The shipped learned-band ``k`` (its false-alarm rate is calibrated)."""
RATE_FLOOR = 0.005  # min std of rate-like signals (fractions), so a constant 0 still has a band
REL_FLOOR = {"events:": 0.02, "": 1e-4}
"""Minimum std of a band or detector relative to its level, by signal prefix (first match)."""


def _rel_floor(name: str) -> float:
    return next(v for prefix, v in REL_FLOOR.items() if name.startswith(prefix))


@dataclass
class SignalState:
    """One signal's thresholds and detectors (``spec`` kept verbatim)."""

    spec: SignalSpec
    static: StaticThreshold | None
    dynamic: DynamicThreshold | None
    detectors: list[DriftDetector]

    @classmethod
    def of(cls, spec: SignalSpec, name: str, seed: int = 0) -> SignalState:
        """The state of signal ``name`` as ``spec`` describes it; ``seed`` (the monitor's) and the
        name seed its detectors."""
        rate = rate_like(name)
        dyn = None
        if (d := spec.dynamic) is not None:
            floor = d.min_std if d.min_std is not None else (RATE_FLOOR if rate else 0.0)
            rel = d.min_rel if d.min_rel is not None else _rel_floor(name)
            side = d.side or ("upper" if rate and name != "anomaly:rate" else "both")
            dyn = DynamicThreshold(d.warmup, d.k, d.alpha, d.hysteresis, d.resolve_after, floor, side, rel)
        st = spec.static
        static = StaticThreshold(st.lower, st.upper, st.hysteresis, st.resolve_after) if st else None
        detector_seed = int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16)
        floor, rel = (RATE_FLOOR if rate else 0.0), _rel_floor(name)
        detectors = [
            DriftDetector(ds.kind, dict(ds.params), ds.warmup, ds.resolve_after, floor, detector_seed, rel)
            for ds in spec.detectors
        ]
        return cls(spec, static, dyn, detectors)

    def seed(self, baseline: SignalBaseline) -> list[str]:
        """Arm the learned band and the detectors from a reference baseline (no warm-up); returns
        the sources whose open alert this closed."""
        closed = []
        if self.dynamic is not None:
            if self.dynamic.decision.active:
                closed.append("dynamic")
            self.dynamic.seed(baseline.mean, baseline.std, baseline.n_ref)
        for det in self.detectors:
            if det.decision.active:
                closed.append(f"detector:{det.kind}")
            det.seed_scale(baseline.mean, baseline.std, baseline.n_ref, baseline.history)
        return closed

    def accept(self) -> list[str]:
        """Take the last value as the new normal in the learned band and every detector; returns
        the sources whose open alert this closed (the static band is a person's own choice and
        stays)."""
        closed = []
        if self.dynamic is not None and self.dynamic.accept() == "resolved":
            closed.append("dynamic")
        closed += [f"detector:{d.kind}" for d in self.detectors if d.accept() == "resolved"]
        return closed

    def baseline_of(self, source: str) -> str:
        """``learned``, ``reference`` or ``accepted``: what ``source``'s decision was judged against
        (``static`` bands are ``configured``)."""
        if source == "dynamic" and self.dynamic is not None:
            return self.dynamic.baseline
        for det in self.detectors:
            if source == f"detector:{det.kind}":
                return det.baseline
        return "configured"

    def update(self, value: float | None, n: int | None = None) -> Self:
        """Feed one window's value to every band and detector (``n``: the window's event count,
        the sampling noise of an average; ``None`` for signals that are not averages)."""
        if self.static is not None:
            self.static.update(value)
        if self.dynamic is not None:
            self.dynamic.update(value, n)
        for det in self.detectors:
            det.update(value, n)
        return self

    @property
    def decisions(self) -> list[tuple[str, Decision]]:
        """(source, its latest decision): ``static``, ``dynamic``, then ``detector:<kind>`` each."""
        found = [(source, t.decision) for source, t in (("static", self.static), ("dynamic", self.dynamic))
                 if t is not None]  # fmt: skip
        return found + [(f"detector:{d.kind}", d.decision) for d in self.detectors]


def rule_of(state: SignalState, source: str) -> dict[str, Any]:
    """The rule behind ``source``'s decisions in ``state``, for an alert's evidence: its family
    (``static``, ``dynamic`` or the detector kind), parameters and, at the shipped defaults, its
    calibrated false-alarm rate (:mod:`glasswatch.monitor.false_alarms`; ``None`` for parameters
    a spec changed: ``glasswatch calibrate`` measures those)."""
    if source == "dynamic" and (d := state.dynamic) is not None:
        rate = CALIBRATED_FALSE_ALARMS_PER_100K["dynamic"] if d.k == DEFAULT_K else None
        return {"family": "dynamic", "k": d.k, "std": d.std, "side": d.side, "false_alarms_per_100k": rate}
    if source == "static" and (st := state.static) is not None:
        return {"family": "static", "lower": st.lower, "upper": st.upper}
    for det in state.detectors:
        if source == f"detector:{det.kind}":
            params = {**DEFAULT_PARAMS[det.kind], **(det.params or {})}
            rate = None if det.params else CALIBRATED_FALSE_ALARMS_PER_100K.get(det.kind)
            return {"family": det.kind, "params": params, "back_within_std": det.back_within,
                    "false_alarms_per_100k": rate}  # fmt: skip
    return {"family": source}


def signal_values(
    spec: MonitorSpec, mixes: dict[str, CategoryMix], stream: str, s: WindowSummary
) -> list[tuple[str, float | None]]:
    """The (signal, value) pairs ``spec`` watches in one stream's summary ``s``.

    A category-mix signal's value is its distance from the mix learned in ``mixes`` (keyed by
    signal; a new one is added the first time)."""
    if stream == "events":
        picks = {"rate": s.signal("rate"), "gap": s.mean}
        return [(f"events:{stat}", picks[stat]) for stat in spec.event_stats]
    if stream == "anomaly":
        return [("anomaly:rate", s.mean)]
    if stream.startswith("feature:"):
        stats = spec.feature_stats
    elif stream == "prediction":
        if not spec.watch_prediction:
            return []
        stats = spec.prediction_stats
    elif stream == "latency":
        if not spec.watch_latency:
            return []
        stats = spec.latency_stats
    elif stream in ("confidence", "entropy"):  # from class probabilities: prediction signals
        if not spec.watch_prediction:
            return []
        stats = spec.confidence_stats if stream == "confidence" else spec.entropy_stats
    else:
        return []
    out: list[tuple[str, float | None]] = []
    for stat in stats:
        name = f"{stream}:{stat}"
        if stat == "category_mix":
            if s.categories or stream in mixes:
                n_cat = s.count - s.missing
                out.append((name, _mix_distance(spec, mixes, name, s.categories, n_cat)))
        elif stat == "missing_rate":
            out.append((name, s.signal("missing_rate")))
        elif s.mean is not None or not s.categories:
            out.append((name, s.signal(stat)))
    return out


def _mix_distance(
    spec: MonitorSpec, mixes: dict[str, CategoryMix], name: str, freqs: dict[str, float], n: int
) -> float | None:
    mix = mixes.get(name)
    if mix is None:
        sig = spec.signal(name)
        mix = mixes[name] = CategoryMix(sig.dynamic.alpha if sig.dynamic else 0.05)
    return mix.distance(freqs, n)
