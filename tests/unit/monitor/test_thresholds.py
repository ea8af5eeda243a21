from __future__ import annotations

import pickle
import random

import pytest

from glasswatch.monitor.thresholds import DynamicThreshold, Latch, StaticThreshold


def states(th: StaticThreshold | DynamicThreshold, xs: list[float | None]) -> list[str]:
    return [th.update(x).decision.state for x in xs]


def warmed(seed: int = 0, n: int = 40, **kw: object) -> DynamicThreshold:
    rng = random.Random(seed)
    th = DynamicThreshold(**kw)  # type: ignore[arg-type]
    for _ in range(n):
        th.update(rng.gauss(100.0, 2.0))
    return th


def test_static_threshold_hysteresis_and_resolve() -> None:
    th = StaticThreshold(lower=0.0, upper=10.0, hysteresis=2, resolve_after=2)
    assert states(th, [5, 11, 5, 11, 12, 13, 5, 11, 5, 5]) == [
        "none",
        "none",
        "none",
        "none",
        "firing",
        "none",
        "none",
        "none",
        "none",
        "resolved",
    ]
    th.update(-1.0)
    d = th.update(-3.0).decision
    assert (d.breaching, d.band, d.score) == (True, (0.0, 10.0), 3.0)


def test_none_values_leave_state_alone() -> None:
    th = StaticThreshold(upper=1.0, hysteresis=2)
    assert states(th, [2.0, None, 2.0]) == ["none", "none", "firing"]
    assert th.update(None).decision.active


def test_no_firing_during_warmup() -> None:
    th = DynamicThreshold(warmup=10, k=3.0, hysteresis=1)
    assert states(th, [1.0, 1000.0, -1000.0, *([1.0] * 7)]) == ["none"] * 10
    assert th.band != (None, None)


def test_dynamic_fires_after_m_breaches_and_resolves_after_n_inside() -> None:
    th = warmed(warmup=20, k=4.0, hysteresis=3, resolve_after=2)
    assert states(th, [200.0, 200.0, 100.0, 200.0, 200.0, 200.0]) == [
        "none",
        "none",
        "none",
        "none",
        "none",
        "firing",
    ]
    assert states(th, [100.0, 200.0, 100.0, 100.0]) == ["none", "none", "none", "resolved"]


def test_breaching_windows_are_not_learned_while_firing() -> None:
    th = warmed(warmup=20, k=4.0, hysteresis=1, resolve_after=3)
    band = th.band
    assert th.update(150.0).decision.state == "firing"
    for _ in range(50):
        th.update(150.0)
    assert th.band == band  # a persistent shift is not absorbed
    assert th.decision.active
    th.update(100.0)
    assert th.band == band  # nothing is learned while firing, even inside values
    states(th, [100.0, 100.0])
    assert not th.decision.active
    th.update(100.5)
    assert th.band != band  # learning resumes after resolve


def test_one_sided_bands() -> None:
    up = warmed(warmup=20, side="upper", hysteresis=1)
    assert up.band[0] is None
    assert up.update(0.0).decision.state == "none"
    assert up.update(1000.0).decision.state == "firing"
    low = warmed(warmup=20, side="lower", hysteresis=1)
    assert low.update(1000.0).decision.state == "none"


def test_min_std_and_count_scaling_widen_the_band() -> None:
    flat = DynamicThreshold(warmup=5, k=5.0, min_std=0.01, hysteresis=1)
    for _ in range(5):
        flat.update(0.0, 1000)
    assert flat.band == (pytest.approx(-0.05), pytest.approx(0.05))
    assert flat.update(0.04, 1000).decision.state == "none"
    lo, hi = flat.update(0.04, 100).decision.band
    assert lo is not None
    assert hi is not None
    assert (hi - lo) / 2 == pytest.approx(0.05 * 10**0.5)
    assert flat.update(0.2, 1000).decision.state == "firing"


def test_clean_gaussian_has_no_false_alarms_and_pickles() -> None:
    th = warmed(n=5000, warmup=20, k=5.0)
    assert th.n_learned > 4900
    copy = pickle.loads(pickle.dumps(th))
    assert states(copy, [100.0, 130.0, 130.0]) == states(th, [100.0, 130.0, 130.0])


def test_latch_counts_consecutive_only() -> None:
    latch = Latch(hysteresis=2, resolve_after=2)
    assert [latch.step(b) for b in (True, False, True, True, False, True, False, False)] == [
        "none",
        "none",
        "none",
        "firing",
        "none",
        "none",
        "none",
        "resolved",
    ]
