"""Attribution drift's learned band: a smaller lasting change than the fixed guard fires, the
guard still fires in the first windows (which are not learned), and the alert says which rule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from glasswatch.explain.alerts import ExplainAlerts
from glasswatch.explain.attribution_drift import AttributionBand, AttributionDrift, normalised_l1, spearman
from glasswatch.schemas.alert import AlertStatus
from glasswatch.schemas.explanation import AttributionWindow

TRAINING = {f"f{i}": 0.5 / (i + 1) for i in range(10)}
T = datetime(2026, 1, 1, tzinfo=UTC)


def _clean(rng: random.Random) -> dict[str, float]:
    return {f: v * rng.uniform(0.9, 1.1) for f, v in TRAINING.items()}


def _moderate() -> dict[str, float]:
    """f0 loses a third of its weight to f5..f9: inside the fixed guard (0.5 / 0.5)."""
    w = dict(TRAINING)
    w["f0"] *= 0.6
    for f in ("f5", "f6", "f7", "f8", "f9"):
        w[f] += 0.04
    return w


def test_the_moderate_change_is_inside_the_fixed_guard() -> None:
    m = _moderate()
    assert spearman(TRAINING, m) > 0.5 and normalised_l1(TRAINING, m) < 0.5
    assert normalised_l1(TRAINING, m) > 0.2  # but far from what clean windows score


def test_a_moderate_lasting_change_fires_the_learned_band_and_clears() -> None:
    rng = random.Random(1)
    d = AttributionDrift(TRAINING)
    for _ in range(15):
        assert not d.update(_clean(rng), explanations=50).drift_detected, d.last
    assert d.last is not None and set(d.last.bands) == {"distance", "rank_correlation"}
    lo, hi = d.last.bands["distance"]
    assert lo is None and hi is not None and hi < 0.5  # tighter than the guard
    assert d.last.bands["rank_correlation"][1] is None  # the lower side only
    assert not d.update(_moderate(), explanations=50).drift_detected  # hysteresis: 2 windows
    assert d.update(_moderate(), explanations=50).drift_detected
    assert d.last is not None and "learned_distance" in d.last.rules
    assert not any(r.startswith("fixed") for r in d.last.rules)
    for _ in range(5):  # the change is not learned as normal while it lasts
        assert d.update(_moderate(), explanations=50).drift_detected
    d.update(_clean(rng), explanations=50)
    assert not d.update(_clean(rng), explanations=50).drift_detected  # resolve_after 2
    fixed_only = AttributionDrift(TRAINING, band=None)
    assert not any(fixed_only.update(_moderate(), explanations=50).drift_detected for _ in range(20))


def test_the_fixed_guard_fires_in_the_first_windows_and_those_are_not_learned() -> None:
    rng = random.Random(2)
    d = AttributionDrift(TRAINING, band=AttributionBand(warmup=5))
    reversed_profile = dict(zip(TRAINING, reversed(list(TRAINING.values())), strict=True))
    assert d.update(reversed_profile, explanations=50).drift_detected  # the very first window
    assert d.last is not None and d.last.rules == ("fixed_correlation", "fixed_distance")
    assert d.last.bands == {}  # no band yet
    for _ in range(6):  # five learned, the sixth judged against the band
        d.update(_clean(rng), explanations=50)
    assert d.last is not None and d.last.bands["distance"][1] is not None
    assert d.last.bands["distance"][1] < 0.3  # the reversed window was not learned into the band


def test_a_reordering_inside_the_guard_fires_the_correlation_band() -> None:
    rng = random.Random(3)
    d = AttributionDrift(TRAINING, band=AttributionBand(warmup=8, hysteresis=1))
    for _ in range(8):
        d.update(_clean(rng), explanations=50)
    swapped = dict(TRAINING)
    for a, b in (("f2", "f5"), ("f3", "f6")):
        swapped[a], swapped[b] = swapped[b], swapped[a]
    assert spearman(TRAINING, swapped) > 0.5  # the guard lets it pass
    assert d.update(swapped, explanations=50).drift_detected
    assert d.last is not None and "learned_correlation" in d.last.rules


def test_the_alert_evidence_names_the_rule_and_the_bands() -> None:
    rng = random.Random(4)
    d = AttributionDrift(TRAINING)
    alerts = ExplainAlerts()
    out = []
    for i, profile in enumerate([_clean(rng) for _ in range(12)] + [_moderate()] * 2 + [_clean(rng)] * 2):
        c = d.update(profile, explanations=40).last
        assert c is not None
        end = T + timedelta(minutes=5 * (i + 1))
        w = AttributionWindow(model="bc", model_version="1", start=end - timedelta(minutes=5), end=end,
                              explanations=40, mean_abs=profile, mean_signed=profile,
                              rank={f: r for r, f in enumerate(profile, start=1)},
                              rank_correlation=c.rank_correlation, distance=c.distance, drifted=c.drifted)
        out += alerts.window(w, TRAINING, d.thresholds, comparison=c)
    assert [a.status for a in out] == [AlertStatus.FIRING, AlertStatus.RESOLVED]
    fired = out[0]
    assert fired.evidence["rules"] == ["learned_distance"]
    assert "learned_distance" in fired.summary
    assert fired.evidence["bands"]["distance"][1] < fired.evidence["distance"] < 0.5
    assert fired.evidence["thresholds"] == {"min_correlation": 0.5, "max_distance": 0.5}
