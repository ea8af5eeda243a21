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


def test_a_change_that_persists_stays_firing_and_resolves_when_the_signal_returns() -> None:
    det = DriftDetector("page_hinkley", resolve_after=4)
    xs = stream(2, n_after=60)
    states = [det.update(x).decision.state for x in xs]
    first = states.index("firing")
    assert "resolved" not in states[first:]  # River reset itself, the signal is still shifted
    assert det.decision.active
    assert det.n_detections >= 1
    assert det.decision.score is not None and det.decision.score > det.back_within
    rng = random.Random(5)
    back = [det.update(rng.gauss(50.0, 5.0)).decision.state for _ in range(40)]
    assert "resolved" in back
    assert not det.decision.active


def test_accept_moves_the_baseline_to_the_new_level() -> None:
    det = DriftDetector("page_hinkley", resolve_after=4)
    for x in stream(3, n_after=30):
        det.update(x)
    assert det.decision.active
    assert det.accept() == "resolved"
    assert det.baseline == "accepted" and not det.decision.active
    rng = random.Random(9)
    later = [det.update(rng.gauss(70.0, 5.0)).decision.state for _ in range(100)]
    assert "firing" not in later  # the accepted level is the new normal


def test_seeded_scale_needs_no_warmup_and_floors_a_constant_baseline() -> None:
    rng = random.Random(4)
    history = [rng.gauss(50.0, 5.0) for _ in range(40)]
    for kind, within in (("page_hinkley", 3), ("adwin", 12), ("kswin", 12)):
        det = DriftDetector(kind, warmup=20).seed_scale(50.0, 5.0, history=history)  # type: ignore[arg-type]
        states = [det.update(x).decision.state for x in [50.0] * 3 + [90.0] * 15]
        assert "firing" in states[3 : 3 + within], f"{kind}: {states}"  # no 20-window warm-up first
        assert det.baseline == "reference"
    flat = DriftDetector("page_hinkley", min_rel=0.01).seed_scale(20.0, 0.0)
    assert [flat.update(20.0 + w).decision.state for w in (0.01, -0.02, 0.0) * 30].count("firing") == 0


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
