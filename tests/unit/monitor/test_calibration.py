from __future__ import annotations

import random

import pytest

from glasswatch.monitor.calibration import calibrate, false_alarm_rate
from glasswatch.monitor.detectors import DriftDetector
from glasswatch.monitor.thresholds import DynamicThreshold


@pytest.fixture(scope="module")
def reference() -> list[float]:
    rng = random.Random(42)
    return [rng.gauss(10.0, 1.0) for _ in range(4000)]


def test_calibrated_k_meets_the_target_and_is_minimal(reference: list[float]) -> None:
    def factory(k: float) -> DynamicThreshold:
        return DynamicThreshold(warmup=30, k=k, hysteresis=1, resolve_after=1)

    cal = calibrate(reference, factory, target_per_10k=1.0, lo=1.0, hi=10.0, events_per_value=1000)
    assert cal.met
    assert cal.false_alarms_per_10k <= 1.0
    assert false_alarm_rate(reference, factory(cal.param - 0.01), 1000) > 1.0
    assert cal.replays == len(cal.history) > 3


def test_page_hinkley_threshold_calibration(reference: list[float]) -> None:
    def factory(t: float) -> DriftDetector:
        return DriftDetector("page_hinkley", {"threshold": t, "delta": 0.05})

    strict = calibrate(reference, factory, target_per_10k=0.0, lo=1.0, hi=200.0, iterations=10)
    loose = calibrate(reference, factory, target_per_10k=50.0, lo=1.0, hi=200.0, iterations=10)
    assert strict.met
    assert loose.param < strict.param


def test_unreachable_target_and_bad_bounds(reference: list[float]) -> None:
    def factory(k: float) -> DynamicThreshold:
        return DynamicThreshold(warmup=5, k=k, hysteresis=1)

    cal = calibrate(reference, factory, target_per_10k=0.0, lo=0.01, hi=0.02)
    assert not cal.met
    assert cal.param == 0.02
    with pytest.raises(ValueError, match="lo < hi"):
        calibrate(reference, lambda k: DynamicThreshold(k=k), target_per_10k=1.0, lo=2.0, hi=1.0)
