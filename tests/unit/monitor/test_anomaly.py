from __future__ import annotations

import pickle

import numpy as np

from glasswatch.monitor.anomaly import AnomalyScorer


def rows(n: int, seed: int, shift: float = 0.0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(n, 3))
    x += shift
    return [{"a": r[0], "b": r[1], "c": r[2], "kind": "x"} for r in x.tolist()]


def flags(sc: AnomalyScorer, data: list[dict[str, object]]) -> list[float | None]:
    return [sc.update(r).flag for r in data]


def test_flag_rate_follows_the_quantile_on_normal_data() -> None:
    sc = AnomalyScorer(warmup_events=300, q=0.98, window_size=100, stride=1, seed=3)
    got = [f for f in flags(sc, rows(6000, 0)) if f is not None]
    assert len(got) > 5000
    assert 0.005 < sum(got) / len(got) < 0.04


def test_shifted_events_are_flagged_far_more_often() -> None:
    sc = AnomalyScorer(warmup_events=300, stride=1, seed=3)
    base = [f for f in flags(sc, rows(3000, 1)) if f is not None]
    shifted = [f for f in flags(sc, rows(200, 2, shift=2.5)) if f is not None]
    assert sum(shifted) / len(shifted) > 10 * sum(base) / len(base)


def test_warmup_stride_missing_values_and_categoricals() -> None:
    sc = AnomalyScorer(warmup_events=50, window_size=20, stride=3, seed=0)
    assert flags(sc, rows(50, 0)) == [None] * 50
    assert sc.ready
    later = flags(sc, rows(300, 1))
    assert all(f is None for i, f in enumerate(later) if (i + 51) % 3)
    assert sc.update({"a": None, "kind": "y"}).flag in (None, 0.0, 1.0)
    assert sc.update(None).flag is None


def test_seeded_and_picklable() -> None:
    data = rows(1500, 5)
    a = AnomalyScorer(warmup_events=200, window_size=50, stride=1, seed=9)
    b = AnomalyScorer(warmup_events=200, window_size=50, stride=1, seed=9)
    assert flags(a, data[:800]) == flags(b, data[:800])
    c = pickle.loads(pickle.dumps(a))
    assert flags(a, data[800:]) == flags(c, data[800:])
