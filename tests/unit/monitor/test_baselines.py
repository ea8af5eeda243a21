"""Reference baselines, floors, persistent conditions and accepts in the model monitor (issue 11)."""

from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np
import pytest

from glasswatch.monitor.baselines import Baseline, bootstrap_baseline
from glasswatch.monitor.model_monitor import MAX_VERSIONS, ModelMonitor
from glasswatch.monitor.specs import MonitorSpec, SignalSpec
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import PredictionEvent
from glasswatch.testing.simulate import T0, simulate

WINDOW = {"size_seconds": 10.0}  # ~1,000 events per window at simulate's 100 events/s


def spec(**kw: object) -> MonitorSpec:
    return MonitorSpec(model="m", window=WINDOW, anomaly={"enabled": False}, **kw)  # type: ignore[arg-type]


def reference_columns(n: int = 20_000, seed: int = 99) -> dict[str, list[object]]:
    recs = simulate(n, seed=seed)
    names = list(recs[0].event.features or {})
    cols: dict[str, list[object]] = {k: [r.event.features[k] for r in recs] for k in names}  # type: ignore[index]
    cols["prediction"] = [r.event.prediction for r in recs]  # type: ignore[union-attr]
    return cols


@pytest.fixture(scope="module")
def reference() -> dict[str, list[object]]:
    return reference_columns()


def feed(mon: ModelMonitor, recs: list[Located], batch: int = 2_000, **kw: object) -> list[Alert]:
    out: list[Alert] = []
    for i in range(0, len(recs), batch):
        out += mon.update_many(recs[i : i + batch], **kw).alerts  # type: ignore[arg-type]
    return out


def firing_on(alerts: list[Alert], prefix: str) -> list[Alert]:
    return [a for a in alerts if a.status is AlertStatus.FIRING and a.signal.startswith(prefix)]


def test_bootstrap_std_shrinks_with_the_window_and_is_seeded(reference: dict[str, list[object]]) -> None:
    small = bootstrap_baseline(reference, spec(), version="1", digest="d", window_events=100)
    large = bootstrap_baseline(reference, spec(), version="1", digest="d", window_events=1600)
    ratio = small.signals["feature:x0:mean"].std / large.signals["feature:x0:mean"].std
    assert 3.0 < ratio < 5.5  # sqrt(16) = 4
    again = bootstrap_baseline(reference, spec(), version="1", digest="d", window_events=100)
    assert again.signals == small.signals
    other = bootstrap_baseline(reference, spec(), version="1", digest="e", window_events=100)
    assert other.signals != small.signals  # the digest seeds the bootstrap
    assert "prediction:mean" in small.signals and "feature:segment:category_mix" in small.signals
    assert "events:rate" not in small.signals  # no arrival times in a reference


def test_bootstrap_rejects_an_empty_or_ragged_reference() -> None:
    with pytest.raises(ValueError, match="no rows"):
        bootstrap_baseline({"x": []}, spec(), version="1", digest="d")
    with pytest.raises(ValueError, match="differ in length"):
        bootstrap_baseline({"x": [1.0], "y": [1.0, 2.0]}, spec(), version="1", digest="d")


def test_a_change_in_the_first_windows_is_caught_with_a_reference_and_missed_without(
    reference: dict[str, list[object]],
) -> None:
    # x0 shifts by one standard deviation from event 2,500 (the third window) to the end
    recs = simulate(20_000, change="mean_shift", change_at=2_500, magnitude=1.0, seed=3)
    learned = firing_on(feed(ModelMonitor(spec()), recs), "feature:x0:")
    assert learned == []  # the warm-up learned the shifted level as normal

    base = bootstrap_baseline(reference, spec(), version="1", digest="ref", window_events=1000)
    found = firing_on(feed(ModelMonitor(spec()), recs, baselines=lambda m, v: base), "feature:x0:")
    assert found, "the reference band missed a change in window 3"
    first = min(a.lineage.offsets[0].last for a in found)
    assert first - 2_500 < 3 * 1000  # within 3 windows of the change
    a = found[0]
    assert a.evidence["baseline"] == "reference"
    assert a.evidence["reference_sha256"] == "ref" and a.evidence["reference_version"] == "1"
    assert a.evidence["rule"]["family"] in {"dynamic", "adwin", "page_hinkley"}
    assert isinstance(a.evidence["rule"]["false_alarms_per_100k"], float)  # shipped defaults: calibrated


def test_no_false_alarm_from_the_reference_on_clean_data(reference: dict[str, list[object]]) -> None:
    base = bootstrap_baseline(reference, spec(), version="1", digest="ref", window_events=1000)
    clean = simulate(60_000, seed=5)
    alerts = feed(ModelMonitor(spec()), clean, baselines=lambda m, v: base)
    assert [a.signal for a in alerts if a.signal.startswith(("feature:", "prediction:"))] == []


def test_lookup_once_per_version_bounded_and_rebaseline_on_a_new_version(
    reference: dict[str, list[object]],
) -> None:
    calls: list[str] = []
    base = bootstrap_baseline(reference, spec(), version="1", digest="ref", window_events=1000)

    def lookup(model: str, version: str) -> Baseline | None:
        calls.append(version)
        return base if version == "1" else None

    mon = ModelMonitor(spec())
    feed(mon, simulate(3_000, seed=1), baselines=lookup)
    assert calls == ["1"] and mon.reference == ("1", "ref")
    t = T0 + timedelta(seconds=40)
    hostile = [
        Located(PredictionEvent(model="m", model_version=f"v{i}", prediction_id=f"h{i}",
                                event_time=t, features={"x0": 0.0}), Coord("predictions", 0, 10_000 + i))
        for i in range(3 * MAX_VERSIONS)
    ]  # fmt: skip
    mon.update_many(hostile + hostile, lookup)
    assert len(calls) == 1 + 3 * MAX_VERSIONS  # one lookup per new version and call...
    assert list(mon._versions) == ["1"]  # ...and a version without a reference costs no state
    assert mon.reference == ("1", "ref")  # versions without a reference keep the baseline
    plain = ModelMonitor(spec())
    feed(plain, simulate(3_000, seed=1), baselines=lambda m, v: None)
    bare = ModelMonitor(spec())
    feed(bare, simulate(3_000, seed=1))
    assert plain.state_digest() == bare.state_digest()  # a lookup that finds nothing changes nothing
    many = [Located(PredictionEvent(model="m", model_version=f"r{i}", prediction_id=f"r{i}",
                                    event_time=t, features={"x0": 0.0}), Coord("predictions", 0, 20_000 + i))
            for i in range(3 * MAX_VERSIONS)]  # fmt: skip
    mon.update_many(many, lambda m, v: Baseline(m, v, v, 1000, {}))  # every version has one
    assert len(mon._versions) == MAX_VERSIONS  # remembered in bounded memory
    restored = pickle.loads(pickle.dumps(mon))
    assert restored.state_digest() == mon.state_digest()


def test_a_persistent_shift_stays_open_until_accepted(reference: dict[str, list[object]]) -> None:
    base = bootstrap_baseline(reference, spec(), version="1", digest="ref", window_events=1000)
    recs = simulate(60_000, change="mean_shift", change_at=10_000, magnitude=2.0, seed=4)
    mon = ModelMonitor(spec())
    alerts = feed(mon, recs[:40_000], baselines=lambda m, v: base)
    fired = {a.fingerprint for a in firing_on(alerts, "feature:x0:")}
    resolved = {a.fingerprint for a in alerts if a.status is AlertStatus.RESOLVED}
    assert fired and not fired & resolved  # still firing 30 windows after the change
    assert set(mon.open_alerts) >= fired

    at = recs[40_000].event.event_time
    closes = mon.accept("feature:x0:*", at=at, accept_id="acc-1")
    assert {a.fingerprint for a in closes} == fired
    assert all(a.status is AlertStatus.RESOLVED and "accepted" in a.summary for a in closes)
    assert mon.accept("feature:x0:*", at=at, accept_id="acc-1") == []  # applied once
    later = feed(mon, recs[40_000:], baselines=lambda m, v: base)
    assert firing_on(later, "feature:x0:") == []  # the shifted level is the new normal
    dyn = mon._signals["feature:x0:mean"]
    assert dyn is not None and dyn.baseline_of("dynamic") == "accepted"


def test_a_persistent_rate_drop_after_warmup_stays_firing_to_the_end() -> None:
    recs = simulate(45_000, change="event_rate", change_at=30_000, magnitude=10.0, seed=2)
    mon = ModelMonitor(spec())
    alerts = feed(mon, recs)
    rate = [a for a in alerts if a.signal == "events:rate"]
    assert rate and rate[0].status is AlertStatus.FIRING
    assert rate[-1].status is AlertStatus.FIRING, [(a.status.value, a.labels) for a in rate]
    assert any(fp for fp in mon.open_alerts if fp == rate[0].fingerprint)


def test_an_expected_rate_catches_an_early_rate_drop(reference: dict[str, list[object]]) -> None:
    recs = simulate(12_000, change="event_rate", change_at=2_500, magnitude=10.0, seed=6)
    base = bootstrap_baseline(reference, spec(), version="1", digest="r", expected_rate=100.0)
    assert base.signals["events:rate"].mean == 100.0
    found = [a for a in feed(ModelMonitor(spec()), recs, baselines=lambda m, v: base)
             if a.signal.startswith("events:") and a.status is AlertStatus.FIRING]  # fmt: skip
    assert found and found[0].evidence["baseline"] == "reference"
    # the drop starts at event 2,500 (~25 s); at a tenth of the rate a window holds ~100 events
    assert found[0].starts_at - recs[2_500].event.event_time < timedelta(seconds=30)
    with pytest.raises(ValueError, match="expected_rate"):
        bootstrap_baseline(reference, spec(), version="1", digest="r", expected_rate=0.0)


def test_constant_signals_raise_nothing() -> None:
    n, rate = 40_000, 100.0
    recs = [
        Located(PredictionEvent(model="m", model_version="1", prediction_id=str(i),
                                event_time=T0 + timedelta(seconds=i / rate),
                                features={"flat": 20.0, "zero": 0.0, "x": float(np.sin(i))}, prediction=0.5),
                Coord("predictions", 0, i))
        for i in range(n)
    ]  # fmt: skip
    alerts = feed(ModelMonitor(MonitorSpec(model="m", window=WINDOW, anomaly={"enabled": False})), recs)
    assert [(a.signal, a.summary) for a in alerts] == []


def test_floors_are_configurable_per_signal() -> None:
    from glasswatch.monitor.signal_state import SignalState
    from glasswatch.monitor.specs import DynamicParams

    loose = SignalState.of(SignalSpec(dynamic=DynamicParams(min_rel=0.5), detectors=()), "feature:a:mean")
    default = SignalState.of(SignalSpec(detectors=()), "events:rate")
    assert loose.dynamic is not None and loose.dynamic.min_rel == 0.5
    assert default.dynamic is not None and default.dynamic.min_rel == 0.02
