"""The anomaly scorer sees a covariate shift (issue 11): after warm-up its trees are frozen and its
threshold fixed, so shifted data raise the flag rate and keep it up; :meth:`AnomalyScorer.fit`
warms it from reference rows so it flags from the first live event."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from river import anomaly

from glasswatch.monitor.anomaly import AnomalyScorer

D, K = 10, 3  # 10 features, the first 3 shifted


def rows(n: int, seed: int, shift: float = 0.0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(n, D))
    x[:, :K] += shift
    return [{f"f{j}": v for j, v in enumerate(r)} for r in x.tolist()]


def rate(sc: AnomalyScorer, data: list[dict[str, object]]) -> float:
    got = [f for f in (sc.update(r).flag for r in data) if f is not None]
    assert got
    return sum(got) / len(got)


def warm(seed: int, fitted: bool) -> AnomalyScorer:
    sc = AnomalyScorer(seed=seed)
    if fitted:
        return sc.fit(rows(2000, 100 + seed))
    flags = [sc.update(r).flag for r in rows(1750, 100 + seed)]  # 500 + 250 + 1000
    assert flags[:1000] == [None] * 1000 and sc.phase == "live"  # ranges, trees, 250 scores
    assert set(flags[1000:]) == {None, 0.0, 1.0}  # provisional flags, every stride-th event
    return sc


@pytest.mark.parametrize("fitted", [False, True], ids=["live-warm-up", "fit"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_two_sigma_shift_of_3_of_10_features_triples_the_flag_rate(seed: int, fitted: bool) -> None:
    sc = warm(seed, fitted)
    clean = rate(sc, rows(8000, 200 + seed))
    assert 0.002 < clean < 0.03  # about 1 - q (a live threshold from 250 scores: roughly)
    shifted = rate(sc, rows(8000, 300 + seed, shift=2.0))
    assert shifted > 3 * clean, (clean, shifted)


def test_a_shift_keeps_the_rate_up_the_model_and_threshold_do_not_learn_it() -> None:
    sc = warm(0, fitted=False)
    threshold, trees = sc.threshold, pickle.dumps(sc.trees)
    data = rows(20_000, 7, shift=2.0)
    first, last = rate(sc, data[:4000]), rate(sc, data[-4000:])
    assert first > 0.04 and last > 0.75 * first  # no absorption: the old scorer's rate fell to ~0
    assert sc.threshold == threshold and pickle.dumps(sc.trees) == trees


def test_fit_flags_from_the_first_live_event() -> None:
    for stride in (1, 4):
        sc = AnomalyScorer(stride=stride, seed=5).fit(rows(2000, 1))
        assert sc.phase == "live" and sc.threshold is not None
        assert sc.update(rows(1, 2)[0]).flag == 0.0
        far = {f"f{j}": 9.0 for j in range(D)}
        flags = [sc.update(far).flag for _ in range(stride)]
        assert flags[-1] == 1.0 and flags[:-1] == [None] * (stride - 1)


def test_fit_measures_the_expected_rate_like_the_live_warm_up() -> None:
    nominal = AnomalyScorer(q=0.98)
    assert nominal.expected_rate == pytest.approx(0.02) and nominal.threshold is None
    fitted = AnomalyScorer(seed=3).fit(rows(2000, 3))
    live = warm(3, fitted=False)
    for sc in (fitted, live):
        assert 0.008 <= sc.expected_rate <= 0.013  # (above + 1) / (n + 1) of the held-out scores
    assert fitted.threshold == pytest.approx(live.threshold, abs=0.05)


def test_fit_is_seeded_resets_and_pickles() -> None:
    ref, live = rows(1200, 4), rows(3000, 5, shift=1.0)
    a = AnomalyScorer(seed=9).fit(ref)
    b = AnomalyScorer(seed=9)
    b.update(rows(1, 6)[0])
    b.fit(iter(ref))  # any iterable; a used scorer starts afresh
    c = pickle.loads(pickle.dumps(a))
    got = [[sc.update(r).flag for r in live] for sc in (a, b, c)]
    assert got[0] == got[1] == got[2] and sum(f or 0 for f in got[0]) > 0


def test_fit_with_few_rows_or_no_numbers() -> None:
    small = AnomalyScorer(seed=1).fit(rows(100, 1))  # < 2 * window_size: round-robin, in-sample
    assert small.phase == "live" and small.update(rows(1, 2)[0]).flag in (0.0, 1.0)
    cats = AnomalyScorer(warmup_events=10, seed=1).fit([{"kind": "x", "flag": True}] * 50)
    assert cats.phase == "range" and not cats.ready  # nothing to score: warms up live
    assert cats.update({"f0": 1.0}).flag is None


def test_fit_takes_a_references_nan_and_none_as_missing() -> None:
    ref = rows(2000, 1)
    holes = [dict(r, f0=float("nan") if i % 3 == 0 else r["f0"], f1=None if i % 5 == 0 else r["f1"])
             for i, r in enumerate(ref)]  # fmt: skip
    sc = AnomalyScorer(seed=1).fit(holes)
    assert sc.threshold is not None and math.isfinite(sc.threshold)
    assert all(math.isfinite(v) for t in sc._scale.values() for v in t)
    assert rate(sc, rows(4000, 2)) < 0.03 and rate(sc, rows(4000, 3, shift=2.0)) > 0.05
    assert sc.update({"f0": float("inf"), "f1": 10**400}).flag in (0.0, 1.0)


def test_state_stays_bounded_after_warm_up() -> None:
    sc = warm(0, fitted=False)
    sc.update(rows(4, 8)[3])  # a scored event
    size = len(pickle.dumps(sc))
    rate(sc, rows(5000, 8, shift=1.5))
    assert len(pickle.dumps(sc)) == size


def test_a_snapshot_from_before_the_frozen_threshold_restores() -> None:
    """A scorer pickled by the earlier version (a QuantileFilter named ``filter``) keeps its ranges
    and trees and fixes a threshold afresh."""
    sc = AnomalyScorer(warmup_events=100, window_size=50, stride=1, seed=2)
    for r in rows(150, 1):
        sc.update(r)
    assert sc.phase == "threshold"
    state: dict[str, Any] = dict(sc.__dict__)
    for key in ("trees", "_phase", "_calibration", "_threshold", "_expected", "calibration_events"):
        del state[key]
    state["filter"] = anomaly.QuantileFilter(sc.trees, q=sc.q)
    old = AnomalyScorer.__new__(AnomalyScorer)
    old.__setstate__(state)
    assert old.phase == "threshold" and old.trees is sc.trees
    flags = [old.update(r).flag for r in rows(1200, 2)]
    assert flags[:50] == [None] * 50 and str(old.phase) == "live"  # provisional flags after 50 scores
    assert 0.0 in set(flags[old.n_calibration :]) <= {0.0, 1.0} and old.threshold is not None


def test_the_monitor_raises_anomaly_rate_on_a_two_sigma_shift_and_not_before() -> None:
    """End to end with the default spec (feature signals off, so only the anomaly rate can tell)."""
    from datetime import UTC, datetime, timedelta

    from glasswatch.monitor.model_monitor import ModelMonitor
    from glasswatch.monitor.specs import MonitorSpec
    from glasswatch.monitor.windows import Located
    from glasswatch.schemas.coords import Coord
    from glasswatch.schemas.events import PredictionEvent

    t0, per, change = datetime(2026, 1, 1, tzinfo=UTC), 500, 30  # events per 60 s window
    data = rows(change * per, 0) + rows(12 * per, 1, shift=2.0)
    recs = [Located(PredictionEvent(model="m", model_version="1", prediction_id=str(i),
                                    event_time=t0 + timedelta(seconds=i * 60 / per), features=f),
                    Coord("predictions", 0, i))
            for i, f in enumerate(data)]  # fmt: skip
    mon = ModelMonitor(MonitorSpec(model="m", signals={"feature:*": {"enabled": False}}))
    out = mon.update_many(recs)
    fired = [(a.signal, a.evidence["window_start"]) for a in out.alerts if a.status.value == "firing"]
    assert fired and {s for s, _ in fired} == {"anomaly:rate"}
    first = min(datetime.fromisoformat(at) for _, at in fired)
    assert t0 + timedelta(minutes=change) <= first <= t0 + timedelta(minutes=change + 3)
