"""One state contract over every stateful object of the pure stages (river's ``yield_checks``).

Each :class:`Case` names an object, a seeded input stream that suits it, its river-shaped single
update, its batched path and what it reports after an update. Every case must pass:

* ``update(...)`` returns the object itself (``update(x) -> Self``);
* a pickled-and-restored twin stays in lockstep: after the same further updates both report the
  same results and have the same :func:`~glasswatch.monitor.digest.state_digest`;
* the state stays bounded: ``len(pickle.dumps(obj))`` after ``large`` updates is at most
  ``growth`` times its size after ``small`` updates, or under an absolute ``cap`` where the size
  legitimately wobbles (the comment on each case says why).

Inputs are hostile where it matters for the bound: more category names than any cap, ``None``
values, shifts that fire and resolve alerts.
"""

from __future__ import annotations

import functools
import itertools
import pickle
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from glasswatch.monitor.anomaly import AnomalyScorer
from glasswatch.monitor.category_mix import CategoryMix
from glasswatch.monitor.detectors import DriftDetector
from glasswatch.monitor.digest import state_digest
from glasswatch.monitor.model_monitor import ModelMonitor
from glasswatch.monitor.reject_rate import RejectRate
from glasswatch.monitor.signal_alert import Outage
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.monitor.stats import FeatureStats, ModelStats
from glasswatch.monitor.summary import WindowSummary
from glasswatch.monitor.thresholds import DynamicThreshold, StaticThreshold
from glasswatch.monitor.windows import Located, WindowAggregator
from glasswatch.testing.simulate import simulate

SEED = 20260101
LARGE = 100_000
SMALL = 10_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """How the contract drives one kind of stateful object."""

    make: Callable[[], Any]
    inputs: Callable[[int], Sequence[Any]]
    """``n`` seeded inputs (the same ``n`` always gives the same inputs)."""
    step: Callable[[Any, Any], Any]
    """One river-shaped update; returns what ``update`` returned."""
    report: Callable[[Any], object]
    """What the object decided / reports after the last update (read-only properties)."""
    feed: Callable[[Any, Sequence[Any]], object] | None = None
    """The batched path, returning what the batch reported; default: ``step`` + ``report`` per input."""
    small: int = SMALL
    large: int = LARGE
    growth: float = 1.2
    cap: int | None = None
    prefix: int = 3_000
    """Updates before the twin is taken (past every warm-up)."""
    further: int = 2_000
    """Updates both twins then see."""


def advance(case: Case, obj: Any, xs: Sequence[Any]) -> list[object]:
    if case.feed is not None:
        return [case.feed(obj, xs)]
    out = []
    for x in xs:
        case.step(obj, x)
        out.append(case.report(obj))
    return out


def run(case: Case, obj: Any, xs: Sequence[Any]) -> None:
    """Feed ``xs`` the fastest way (the batched path if any), reading nothing."""
    if case.feed is not None:
        case.feed(obj, xs)
        return
    step = case.step
    for x in xs:
        step(obj, x)


def chunked(
    update_many: Callable[[Any, Sequence[Any]], object], size: int
) -> Callable[[Any, Sequence[Any]], object]:
    def feed(obj: Any, xs: Sequence[Any]) -> object:
        return [update_many(obj, xs[i : i + size]) for i in range(0, len(xs), size)]

    return feed


# -- seeded input streams ---------------------------------------------------------------------


def sliced(gen: Callable[[int], Sequence[Any]]) -> Callable[[int], Sequence[Any]]:
    """The first ``n`` of one cached stream of :data:`LARGE` inputs (generated once per module)."""
    full = functools.cache(lambda: gen(LARGE))
    return lambda n: full()[:n]


def _shifted(rng: random.Random, i: int) -> float:
    """A unit normal with a +6 shift on one block of 500 in every 7 (fires, then resolves)."""
    return rng.gauss(0.0, 1.0) + (6.0 if (i // 500) % 7 == 3 else 0.0)


def signal_values(n: int) -> tuple[float | None, ...]:
    rng = random.Random(SEED)
    return tuple(None if rng.random() < 0.02 else _shifted(rng, i) for i in range(n))


def counted_values(n: int) -> tuple[tuple[float | None, int], ...]:
    """``(window value, window event count)`` pairs."""
    rng = random.Random(SEED + 1)
    return tuple((v, rng.randint(50, 150)) for v in signal_values(n))


def feature_rows(n: int) -> tuple[dict[str, object], ...]:
    rng = random.Random(SEED + 2)
    rows = []
    for i in range(n):
        out = rng.random() < 0.003
        rows.append(
            {
                "a": 9.0 if out else rng.gauss(0.0, 1.0),
                "b": None if rng.random() < 0.05 else rng.gauss(5.0, 2.0),
                "c": rng.random(),
                "segment": f"s{i % 300}",  # categorical: not scored
            }
        )
    return tuple(rows)


def feature_values(n: int) -> tuple[object, ...]:
    """Numbers, ``None``, booleans and 1,000 category names (the cap is 64)."""
    rng = random.Random(SEED + 3)
    kinds = rng.choices(("num", "none", "cat", "bool"), weights=(80, 5, 14, 1), k=n)
    return tuple(
        rng.gauss(3.0, 2.0)
        if k == "num"
        else None
        if k == "none"
        else f"c{rng.randrange(1000)}"
        if k == "cat"
        else rng.random() < 0.5
        for k in kinds
    )


def category_mixes(n: int) -> tuple[dict[str, float], ...]:
    """Windows' category frequencies; names rotate through 5,000, far more than the cap."""
    rng = random.Random(SEED + 4)
    out = []
    for i in range(n):
        names = ["a", "b"] + [f"n{(i * 3 + j) % 5000}" for j in range(3)]
        w = [rng.random() + (5.0 if k < 2 else 0.0) for k in range(len(names))]
        total = sum(w)
        out.append({k: x / total for k, x in zip(names, w, strict=True)})
    return tuple(out)


REASONS = ("not_json", "missing_field", "wrong_type", "oversize", "clock_skew")


def reject_reasons(n: int) -> tuple[tuple[int, tuple[str, ...], str | None, datetime], ...]:
    """``(offset, reasons, model, event time)``; bursts of rejects fire and resolve alerts."""
    rng = random.Random(SEED + 5)
    out = []
    for off in range(n):
        burst = (off // 500) % 5 == 2
        reasons = (
            tuple(rng.sample(REASONS, rng.randint(1, 2))) if rng.random() < (0.6 if burst else 0.01) else ()
        )
        out.append((off, reasons, f"m{rng.randrange(3)}" if reasons else None, T0 + timedelta(seconds=off)))
    return tuple(out)


@functools.cache
def records(n: int) -> tuple[Located, ...]:
    """Simulated prediction events (50/s, 3 features + a segment) with a mean shift that reverts."""
    return tuple(
        simulate(
            n,
            n_features=3,
            rate=50.0,
            change="mean_shift",
            change_at=n * 3 // 10,
            revert_at=n * 6 // 10,
            seed=SEED,
        )
    )


def events_summaries(n: int) -> tuple[WindowSummary, ...]:
    """Closed windows' ``events`` summaries: busy windows with runs of empty ones (outages)."""
    rng = random.Random(SEED + 6)
    pool = [
        WindowSummary(
            model="m",
            stream="events",
            start=T0 + timedelta(minutes=i),
            end=T0 + timedelta(minutes=i + 1),
            count=0 if (i // 10) % 4 == 3 else rng.randint(1, 99),
        )
        for i in range(400)
    ]
    return tuple(itertools.islice(itertools.cycle(pool), n))


def _reject(o: RejectRate, x: tuple[int, tuple[str, ...], str | None, datetime]) -> Any:
    return o.update(x[0], x[1], model=x[2], event_time=x[3])


def _update_all(o: Any, xs: Sequence[Any]) -> None:
    for x in xs:
        o.update(x)


SPEC = MonitorSpec(model="m", window={"size_seconds": 10, "allowed_lateness_seconds": 1}, seed=SEED)

CASES: dict[str, Case] = {
    # a latch and a fixed band: constant size
    "static_threshold": Case(
        make=lambda: StaticThreshold(lower=-3.0, upper=3.0, hysteresis=2, resolve_after=2),
        inputs=sliced(signal_values),
        step=lambda o, x: o.update(x),
        report=lambda o: o.decision,
    ),
    # a latch, a warm-up Var and EWMA floats: constant size
    "dynamic_threshold": Case(
        make=lambda: DynamicThreshold(warmup=20, k=4.0, hysteresis=2, resolve_after=3),
        inputs=sliced(counted_values),
        step=lambda o, x: o.update(*x),
        report=lambda o: (o.decision, o.band, o.n_learned),
    ),
    # ADWIN keeps O(log n) buckets, a row per doubling of its window: log(1e5) / log(1e4) = 1.25
    "drift_adwin": Case(
        make=lambda: DriftDetector("adwin", warmup=20, resolve_after=5, seed=1),
        inputs=sliced(counted_values),
        step=lambda o, x: o.update(*x),
        report=lambda o: (o.decision, o.drift_detected, o.n_detections),
        growth=1.4,
    ),
    # Page-Hinkley: a handful of running sums, constant size
    "drift_page_hinkley": Case(
        make=lambda: DriftDetector("page_hinkley", warmup=20, resolve_after=5, seed=1),
        inputs=sliced(counted_values),
        step=lambda o, x: o.update(*x),
        report=lambda o: (o.decision, o.drift_detected, o.n_detections),
    ),
    # KSWIN runs a two-sample KS test per value (~0.4 ms), so 2.5k updates instead of 100k; its
    # history is a fixed-length deque (window_size=40), full after 40 values: 2.5k updates turn
    # it over 60 times, which is as telling for the bound as 100k
    "drift_kswin": Case(
        make=lambda: DriftDetector("kswin", warmup=20, resolve_after=5, seed=1),
        inputs=sliced(counted_values),
        step=lambda o, x: o.update(*x),
        report=lambda o: (o.decision, o.drift_detected, o.n_detections),
        small=500,
        large=2_500,
        prefix=600,
        further=600,
    ),
    # half-space trees of fixed height and a P² quantile: constant size
    "anomaly_scorer": Case(
        make=lambda: AnomalyScorer(warmup_events=200, window_size=50, stride=2, n_trees=5, height=6, seed=3),
        inputs=sliced(feature_rows),
        step=lambda o, x: o.update(x),
        report=lambda o: (o.flag, o.score, o.ready),
        feed=_update_all,
    ),
    # moments, P² quantiles and at most 64 categories + __other__ (1,000 names are fed)
    "feature_stats": Case(
        make=FeatureStats,
        inputs=sliced(feature_values),
        step=lambda o, x: o.update(x),
        report=lambda o: o.summary(),
        feed=chunked(lambda o, xs: o.update_many(list(xs)).summary(), 1_000),
    ),
    # one FeatureStats per feature of a fixed schema, counters by type and version
    "model_stats": Case(
        make=ModelStats,
        inputs=sliced(lambda n: tuple(r.event for r in records(n))),
        step=lambda o, x: o.update(x),
        report=lambda o: o.summary(),
        feed=chunked(lambda o, xs: o.update_many(xs).summary(), 1_000),
    ),
    # at most 64 named frequencies + __other__ although 5,000 names rotate through
    "category_mix": Case(
        make=lambda: CategoryMix(alpha=0.05),
        inputs=sliced(category_mixes),
        step=lambda o, x: o.update(x),
        report=lambda o: (o.n, o.distance({"a": 0.5, "b": 0.3, "zz": 0.2}, 100)),
        feed=_update_all,
    ),
    # one block's reject counters and at most one open alert; the size depends on whether an
    # alert is open and on the reasons of the current block, so an absolute cap instead
    "reject_rate": Case(
        make=lambda: RejectRate(
            topic="preds", partition=0, block_messages=100, threshold=0.2, hysteresis=2, resolve_after=2
        ),
        inputs=sliced(reject_reasons),
        step=_reject,
        report=lambda o: (o.firing, o.alerts),
        cap=8_192,
    ),
    # a latch and the last busy window's summary (one alert's worth at most): constant size
    "outage": Case(
        make=lambda: Outage("m", hysteresis=2, config_hash="c"),
        inputs=sliced(events_summaries),
        step=lambda o, x: o.update(x),
        report=lambda o: (o.active, o.alerts),
        cap=8_192,
    ),
    # open panes only: with a 10 s window, a 5 s hop and 1 s lateness 2-4 panes are open, and a
    # pane's size depends on how full its reservoirs are (up to 256 floats for each of the 6
    # numeric streams, ~14 KB), so its size wobbles between 18 and 31 KB: an absolute cap of 4
    # full panes (a leak of one pane per window would pass it within 10 windows of 100k events)
    "window_aggregator": Case(
        make=lambda: WindowAggregator(
            "m", size_seconds=10, hop_seconds=5, allowed_lateness_seconds=1, seed=1
        ),
        inputs=sliced(records),
        step=lambda o, x: o.update(x),
        report=lambda o: o.flush(),
        feed=chunked(lambda o, xs: o.update_many(xs), 1_000),
        cap=4 * 14_000,
    ),
    # windows + scorer + per-signal thresholds and detectors (ADWIN: logarithmic, see above)
    "model_monitor": Case(
        make=lambda: ModelMonitor(SPEC),
        inputs=sliced(records),
        step=lambda o, x: o.update(x),
        report=lambda o: o.open_alerts,
        feed=chunked(lambda o, xs: o.update_many(xs), 500),
        growth=1.3,
        prefix=11_000,  # past the 20 warm-up windows of 500 events
        further=4_000,
    ),
}

IDS = sorted(CASES)


@pytest.mark.parametrize("name", IDS)
def test_update_returns_self(name: str) -> None:
    case = CASES[name]
    obj = case.make()
    xs = case.inputs(case.prefix)
    returned = [case.step(obj, x) for x in xs[:500]]
    assert all(r is obj for r in returned), f"{name}.update returned {type(returned[0]).__name__}"


@pytest.mark.parametrize("name", IDS)
def test_restored_twin_stays_in_lockstep(name: str) -> None:
    case = CASES[name]
    xs = case.inputs(case.prefix + case.further)
    a = case.make()
    advance(case, a, xs[: case.prefix])
    b = pickle.loads(pickle.dumps(a))
    digest = state_digest(a)
    assert state_digest(b) == digest
    rest = xs[case.prefix :]
    half = len(rest) // 2
    for part in (rest[:half], rest[half:]):
        out_a, out_b = advance(case, a, part), advance(case, b, part)
        assert out_a == out_b
        before, digest = digest, state_digest(a)
        assert state_digest(b) == digest
        assert digest != before  # not vacuous: the updates changed the state


@pytest.mark.parametrize("name", IDS)
def test_state_size_is_bounded(name: str) -> None:
    case = CASES[name]
    xs = case.inputs(case.large)
    obj = case.make()
    run(case, obj, xs[: case.small])
    early = len(pickle.dumps(obj))
    run(case, obj, xs[case.small :])
    late = len(pickle.dumps(obj))
    within = late <= case.growth * early or (case.cap is not None and late <= case.cap)
    assert within, f"{name}: {early} bytes after {case.small:,} updates, {late} after {case.large:,}"


def test_inputs_make_alerts_fire_and_resolve() -> None:
    """The generators exercise the decisions, not only the quiet path."""
    rr = CASES["reject_rate"]
    obj = rr.make()
    kinds = []
    for x in rr.inputs(5_000):
        rr.step(obj, x)
        kinds += [a.status.value for a in obj.alerts]
    assert "firing" in kinds and "resolved" in kinds
    th = CASES["dynamic_threshold"]
    obj = th.make()
    states = {th.step(obj, x).decision.state for x in th.inputs(5_000)}
    assert states == {"none", "firing", "resolved"}
