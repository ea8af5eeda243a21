"""Behaviour of ModelMonitor on simulated streams (100 events/s, 10 s windows, ~1,000 events each)."""

from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np
import pytest

from glasswatch.monitor.model_monitor import ModelMonitor, MonitorOutput
from glasswatch.monitor.specs import MonitorSpec, SignalSpec, StaticBounds
from glasswatch.monitor.windows import Located
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, fingerprint_of
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import PredictionEvent
from glasswatch.testing.simulate import Change, simulate

N, CHANGE_AT, REVERT_AT = 60_000, 30_000, 45_000
SPEC = MonitorSpec(model="m", window={"size_seconds": 10.0})
WINDOW = timedelta(seconds=10)


def run(mon: ModelMonitor, recs: list[Located], batch: int = 2_000) -> list[Alert]:
    alerts: list[Alert] = []
    for i in range(0, len(recs), batch):
        alerts += mon.update_many(recs[i : i + batch]).alerts
    return alerts


SCENARIOS: dict[str, tuple[float, AlertKind, str, tuple[str, ...]]] = {
    # change -> (magnitude, expected kind, expected signal, signal prefixes allowed to alert)
    "mean_shift": (1.0, AlertKind.THRESHOLD_DYNAMIC, "feature:x0:mean", ("feature:x0:", "anomaly:")),
    "variance": (2.0, AlertKind.THRESHOLD_DYNAMIC, "feature:x0:std", ("feature:x0:", "anomaly:")),
    "category_mix": (1.0, AlertKind.THRESHOLD_DYNAMIC, "feature:segment:category_mix", ("feature:segment:",)),
    "missing_rate": (0.2, AlertKind.MISSING_RATE, "feature:x0:missing_rate", ("feature:x0:", "anomaly:")),
    "event_rate": (5.0, AlertKind.EVENT_RATE, "events:rate", ("events:",)),
}


@pytest.fixture(scope="module")
def streams() -> dict[str, list[Located]]:
    return {
        c: simulate(N, change=c, change_at=CHANGE_AT, revert_at=REVERT_AT, magnitude=m, seed=7)  # type: ignore[arg-type]
        for c, (m, *_) in SCENARIOS.items()
    }


@pytest.fixture(scope="module")
def runs(streams: dict[str, list[Located]]) -> dict[str, tuple[ModelMonitor, list[Alert]]]:
    out = {}
    for change, recs in streams.items():
        mon = ModelMonitor(SPEC)
        out[change] = (mon, run(mon, recs))
    return out


@pytest.mark.parametrize("change", list(SCENARIOS))
def test_change_raises_the_right_alert_only_and_resolves(
    change: Change, streams: dict[str, list[Located]], runs: dict[str, tuple[ModelMonitor, list[Alert]]]
) -> None:
    _, kind, signal, allowed = SCENARIOS[change]
    recs = streams[change]
    mon, alerts = runs[change]
    assert alerts, "no alert at all"
    stray = [(a.kind.value, a.signal) for a in alerts if not a.signal.startswith(allowed)]
    assert stray == []
    fp = fingerprint_of("m", kind.value, signal)
    firing = [a for a in alerts if a.fingerprint == fp and a.status is AlertStatus.FIRING]
    assert firing, f"{kind.value} on {signal} never fired: {[(a.kind.value, a.signal) for a in alerts]}"
    changed_at = recs[CHANGE_AT].event.event_time
    assert changed_at <= firing[0].starts_at <= changed_at + 4 * WINDOW  # within 3 windows (hysteresis 2)
    resolved = [a for a in alerts if a.fingerprint == fp and a.status is AlertStatus.RESOLVED]
    reverted_at = recs[REVERT_AT].event.event_time
    assert resolved
    assert resolved[0].ends_at is not None
    assert reverted_at <= resolved[0].ends_at <= reverted_at + 5 * WINDOW
    assert resolved[0].starts_at == firing[0].starts_at
    fired_before_revert = {a.fingerprint for a in alerts if a.starts_at < reverted_at}
    assert not fired_before_revert & set(mon.open_alerts)  # every condition of the change resolved


def test_alert_evidence_lineage_and_links(runs: dict[str, tuple[ModelMonitor, list[Alert]]]) -> None:
    _, alerts = runs["mean_shift"]
    a = next(a for a in alerts if a.kind is AlertKind.THRESHOLD_DYNAMIC)
    ev = a.evidence
    assert ev["signal"] == "feature:x0:mean"
    assert ev["source"] == "dynamic"
    lo, hi = ev["band"]
    assert ev["value"] > hi > lo
    assert ev["window_end"] == a.starts_at.isoformat()
    assert a.lineage.model_version == "1"
    assert a.lineage.config_hash == SPEC.config_hash()
    (off,) = a.lineage.offsets
    assert (off.topic, off.partition) == ("predictions", 0)
    assert 900 < off.last - off.first < 1100
    assert a.replay_command == f"glasswatch replay --model m --offsets predictions:0:{off.first}-{off.last}"
    assert a.links.playbook.endswith("/threshold_dynamic.md")
    d = next(a for a in alerts if a.kind is AlertKind.DRIFT_DETECTOR)
    assert d.evidence["detector"] in ("adwin", "page_hinkley")


def test_never_two_open_alerts_for_one_condition(runs: dict[str, tuple[ModelMonitor, list[Alert]]]) -> None:
    for _, alerts in runs.values():
        open_: set[str] = set()
        for a in alerts:
            if a.status is AlertStatus.FIRING:
                assert a.fingerprint not in open_
                open_.add(a.fingerprint)
            else:
                assert a.fingerprint in open_
                open_.remove(a.fingerprint)


def test_clean_stream_of_100k_events_raises_nothing() -> None:
    recs = simulate(100_000, seed=11)
    mon = ModelMonitor(SPEC)
    alerts, windows = [], 0
    for i in range(0, len(recs), 5_000):
        out = mon.update_many(recs[i : i + 5_000])
        alerts += out.alerts
        windows += len(out.windows)
    assert windows >= 95
    assert [(a.kind.value, a.signal, a.evidence["window_end"]) for a in alerts] == []


def test_determinism_same_events_same_alerts_and_state(streams: dict[str, list[Located]]) -> None:
    recs = streams["variance"][:35_000]
    a, b, c = ModelMonitor(SPEC), ModelMonitor(SPEC), ModelMonitor(SPEC)
    alerts_a, alerts_b = run(a, recs), run(b, recs)
    assert alerts_a == alerts_b
    assert a.state_digest() == b.state_digest()
    assert run(c, recs, batch=777) == alerts_a  # batch boundaries do not matter either
    assert c.state_digest() == a.state_digest()
    b.update_many(streams["variance"][35_000:35_100])
    assert b.state_digest() != a.state_digest()


def test_pickle_mid_stream_then_continue_matches_uninterrupted(
    streams: dict[str, list[Located]], runs: dict[str, tuple[ModelMonitor, list[Alert]]]
) -> None:
    recs = streams["mean_shift"]
    whole, expected = runs["mean_shift"]
    first = ModelMonitor(SPEC)
    got = run(first, recs[:33_000])
    restored = pickle.loads(pickle.dumps(first))
    assert restored.state_digest() == first.state_digest()
    got += run(restored, recs[33_000:])
    assert got == expected
    assert restored.state_digest() == whole.state_digest()


def test_late_events_are_returned_not_counted() -> None:
    spec = MonitorSpec(model="m", window={"size_seconds": 10.0, "allowed_lateness_seconds": 2.0})
    recs = simulate(3_000, seed=1)
    late = recs[100]  # ~1 s in, replayed after 25 s
    mon = ModelMonitor(spec)
    out: MonitorOutput = mon.update_many([*recs[:2_500], late])
    assert out.late == [late]
    assert sum(w.summaries["events"].count for w in out.windows) <= 2_500


def test_static_bounds_and_disabled_signals() -> None:
    spec = MonitorSpec(
        model="m",
        window={"size_seconds": 10.0},
        anomaly={"enabled": False},
        default=SignalSpec(enabled=False),
        signals={
            "latency:mean": SignalSpec(
                static=StaticBounds(upper=10.0), dynamic=None, detectors=(), severity="critical"
            )
        },
    )
    alerts = run(ModelMonitor(spec), simulate(3_000, seed=2))  # latency ~ lognormal(3, .3) ~ 21 ms
    assert {(a.kind, a.signal, a.severity.value) for a in alerts} == {
        (AlertKind.THRESHOLD_STATIC, "latency:mean", "critical")
    }
    assert len(alerts) == 1
    assert alerts[0].evidence["threshold"] == [None, 10.0]


def test_advance_closes_idle_windows_and_flags_an_outage() -> None:
    spec = MonitorSpec(model="m", window={"size_seconds": 10.0}, anomaly={"enabled": False})
    recs = simulate(30_000, seed=3)
    mon = ModelMonitor(spec)
    run(mon, recs)
    out = mon.advance(recs[-1].event.event_time + 6 * WINDOW)
    assert len(out.windows) == 6
    assert ("event_rate", "events:rate") in {(a.kind.value, a.signal) for a in out.alerts}


def test_a_silent_model_raises_upstream_outage_beside_event_rate_until_events_come_back() -> None:
    spec = MonitorSpec(model="m", window={"size_seconds": 10.0}, anomaly={"enabled": False})
    recs = simulate(30_000, seed=3)  # past the event-rate band's warm-up
    mon = ModelMonitor(spec)
    assert [a for a in run(mon, recs) if a.kind is AlertKind.UPSTREAM_OUTAGE] == []
    last = recs[-1].event.event_time
    first = mon.advance(last + 2 * WINDOW)  # the last window with events, then one empty one
    assert [w.summaries["events"].count == 0 for w in first.windows] == [False, True]
    assert AlertKind.UPSTREAM_OUTAGE not in {a.kind for a in first.alerts}  # hysteresis 2
    silent = mon.advance(last + 6 * WINDOW)
    outage = [a for a in silent.alerts if a.kind is AlertKind.UPSTREAM_OUTAGE]
    assert [(a.status, a.model, a.signal, a.severity.value) for a in outage] == [
        (AlertStatus.FIRING, "m", "events", "critical")
    ]
    assert outage[0].evidence["empty_windows"] == 2
    assert outage[0].lineage.offsets[0].last == len(recs) - 1  # where the stream stopped
    assert AlertKind.EVENT_RATE in {a.kind for a in first.alerts + silent.alerts}  # event_rate stays
    back = simulate(2_000, seed=4, start=last + 6 * WINDOW, first_offset=len(recs))  # 20 s
    after = [a for a in run(mon, back) if a.kind is AlertKind.UPSTREAM_OUTAGE]
    assert [(a.status, a.fingerprint) for a in after] == [(AlertStatus.RESOLVED, outage[0].fingerprint)]
    assert after[0].starts_at == outage[0].starts_at


def test_a_snapshot_from_before_the_outage_check_gets_one() -> None:
    spec = MonitorSpec(model="m", window={"size_seconds": 10.0}, anomaly={"enabled": False})
    mon = ModelMonitor(spec)
    recs = simulate(3_000, seed=3)
    run(mon, recs)
    old = pickle.loads(pickle.dumps(mon))
    del old.__dict__["outage"]
    restored = pickle.loads(pickle.dumps(old))
    assert restored.outage is not None
    silent = restored.advance(recs[-1].event.event_time + 6 * WINDOW)
    assert AlertKind.UPSTREAM_OUTAGE in {a.kind for a in silent.alerts}


def test_upstream_outage_follows_the_event_rate_signal() -> None:
    off = SignalSpec(enabled=False)
    spec = MonitorSpec(
        model="m", window={"size_seconds": 10.0}, anomaly={"enabled": False}, signals={"events:*": off}
    )
    mon = ModelMonitor(spec)
    recs = simulate(3_000, seed=3)
    run(mon, recs)
    out = mon.advance(recs[-1].event.event_time + 6 * WINDOW)
    assert len(out.windows) == 6
    assert {a.kind for a in out.alerts} & {AlertKind.UPSTREAM_OUTAGE, AlertKind.EVENT_RATE} == set()
    strict = MonitorSpec(model="m", signals={"events:rate": SignalSpec(dynamic={"hysteresis": 4})})
    assert ModelMonitor(strict).outage is not None
    assert ModelMonitor(strict).outage.hysteresis == 4  # type: ignore[union-attr]


def test_prediction_class_mix_change_on_hopping_windows() -> None:
    rng = np.random.default_rng(5)
    n, change = 24_000, 15_000
    p_yes = np.where(np.arange(n) < change, 0.2, 0.45)
    labels = np.where(rng.random(n) < p_yes, "yes", "no")
    times = np.cumsum(rng.exponential(0.01, n))
    t0 = simulate(1)[0].event.event_time
    recs = [
        Located(
            PredictionEvent(
                model="m",
                model_version="2",
                prediction_id=str(i),
                event_time=t0 + timedelta(seconds=float(times[i])),
                prediction=str(labels[i]),
            ),
            Coord("predictions", 1, i),
        )
        for i in range(n)
    ]
    spec = MonitorSpec(
        model="m", window={"size_seconds": 10.0, "hop_seconds": 5.0}, anomaly={"enabled": False}
    )
    alerts = run(ModelMonitor(spec), recs)
    assert {a.signal for a in alerts} <= {"prediction:category_mix"}
    firing = [a for a in alerts if a.kind is AlertKind.THRESHOLD_DYNAMIC]
    assert firing
    assert recs[change].event.event_time <= firing[0].starts_at <= recs[change].event.event_time + 3 * WINDOW
    assert firing[0].lineage.offsets[0].partition == 1


def test_events_of_another_model_are_refused() -> None:
    with pytest.raises(ValueError, match="model 'other'"):
        ModelMonitor(SPEC).update_many(simulate(3, model="other"))


def test_pickled_state_is_bounded_whatever_the_events_per_window() -> None:
    """The changelog snapshot of a monitor must not grow with the events of an open window."""
    spec = MonitorSpec(model="m", window={"size_seconds": 60.0}, anomaly={"enabled": False})
    recs = simulate(50_000, rate=1_000.0, seed=9)  # ~50 s: one open 60 s window
    mon = ModelMonitor(spec)
    assert mon.update_many(recs[:10]).windows == []
    small = len(pickle.dumps(mon))
    assert run(mon, recs[10:]) == []
    assert mon.update_many([]).windows == []  # the window is still open
    big = len(pickle.dumps(mon))
    assert big - small < 64 * 1024, (small, big)
    restored = pickle.loads(pickle.dumps(mon))
    assert restored.state_digest() == mon.state_digest()
    (window,) = restored.advance(recs[-1].event.event_time + WINDOW * 7).windows[:1]
    assert window.summaries["events"].count == 50_000
    assert window.summaries["feature:x0"].count == 50_000
