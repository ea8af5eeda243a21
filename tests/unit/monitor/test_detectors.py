from __future__ import annotations

import pickle
import random

import pytest

from glasswatch.monitor.detectors import DriftDetector


def stream(seed: int, n_before: int = 200, n_after: int = 100, shift: float = 4.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(50.0, 5.0) for _ in range(n_before)] + [
        rng.gauss(50.0 + shift * 5.0, 5.0) for _ in range(n_after)
    ]


def firings(det: DriftDetector, xs: list[float]) -> list[int]:
    return [i for i, x in enumerate(xs) if det.update(x).decision.state == "firing"]


@pytest.mark.parametrize(("kind", "bound"), [("adwin", 15), ("page_hinkley", 10), ("kswin", 25)])
def test_each_detector_finds_a_shift_quickly_without_false_alarms(kind: str, bound: int) -> None:
    for seed in range(5):
        det = DriftDetector(kind, seed=seed)  # type: ignore[arg-type]
        fired = firings(det, stream(seed))
        assert fired, f"{kind} missed the shift (seed {seed})"
        assert 200 <= fired[0] < 200 + bound, f"{kind} seed {seed}: {fired}"


@pytest.mark.parametrize("kind", ["adwin", "page_hinkley", "kswin"])
def test_clean_stream_is_quiet(kind: str) -> None:
    rng = random.Random(11)
    det = DriftDetector(kind, seed=1)  # type: ignore[arg-type]
    assert firings(det, [rng.gauss(0, 1) for _ in range(2000)]) == []


def test_units_are_standard_deviations() -> None:
    # the same relative shift is found at the same step whatever the signal's scale
    small = firings(DriftDetector("page_hinkley"), [x / 1000 for x in stream(1)])
    large = firings(DriftDetector("page_hinkley"), [x * 1000 for x in stream(1)])
    assert small == large
    assert small


def test_resolves_after_quiet_windows_and_reports_score() -> None:
    det = DriftDetector("page_hinkley", resolve_after=4)
    xs = stream(2, n_after=60)
    states = [det.update(x).decision.state for x in xs]
    first = states.index("firing")
    assert "resolved" in states[first:]
    assert det.n_detections >= 1
    assert det.decision.score is not None


def test_pickle_mid_stream_continues_identically() -> None:
    xs = stream(4)
    a = DriftDetector("kswin", seed=3)
    for x in xs[:150]:
        a.update(x)
    b = pickle.loads(pickle.dumps(a))
    assert firings(a, xs[150:]) == firings(b, xs[150:])


def test_none_and_unknown_kind() -> None:
    det = DriftDetector("adwin")
    assert det.update(None).decision.state == "none"
    assert not det.drift_detected
    with pytest.raises(KeyError):
        DriftDetector("cusum")  # type: ignore[arg-type]
