"""``feature_drift`` is raised only for drift that survives the correction and is confirmed: no
false alarms on a clean stream, a strongly shifted column at once, a distance blip never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from glasswatch.drift.alerts import DriftAlerts, DriftOutcome, feature_signal
from glasswatch.drift.confirm import bh_adjusted, confirmed, significant, verdicts
from glasswatch.drift.job import DriftResult, run_drift
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow
from glasswatch.schemas.alert import AlertKind, AlertStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
COLS = [f"c{i:02d}" for i in range(20)]


def outcome(i: int, result: DriftResult) -> DriftOutcome:
    w = DriftWindow(model="m", model_version="1", offsets=(), start=T0 + timedelta(hours=i),
                    end=T0 + timedelta(hours=i + 1))
    return DriftOutcome(w, result, reference_sha256="ab" * 32, run_id=f"run{i}")


def frame(rng: np.random.Generator, rows: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    shift = shift or {}
    return pd.DataFrame({c: rng.normal(shift.get(c, 0.0), 1.0, rows) for c in COLS})


def test_bh_adjusted_equals_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(0).uniform(size=37) ** 3
    ours = bh_adjusted({f"x{i}": float(v) for i, v in enumerate(p)})
    theirs = multipletests(p, method="fdr_bh")[1]
    assert [ours[f"x{i}"] for i in range(len(p))] == pytest.approx(list(theirs))
    assert bh_adjusted({}) == {}


def test_a_clean_stream_raises_no_feature_drift_though_evidently_flags_columns() -> None:
    """50 clean 20-column windows against one 1,000-row reference (Evidently's K-S regime)."""
    rng = np.random.default_rng(10)
    ref = frame(rng, 1000)
    alerts, raw, bh_only = DriftAlerts(), 0, 0
    fired = []
    for i in range(50):
        r = run_drift(ref, frame(rng, 500), DriftSpec(), report=False)
        assert {c.method for c in r.columns} == {"K-S p_value"} and not r.dataset_drift
        raw += len(r.drifted)
        bh_only += len(significant(r))
        fired += [a for a in alerts.update(outcome(i, r)).alerts if a.kind is AlertKind.FEATURE_DRIFT]
    print(f"Evidently flagged {raw} of 1000 column tests; {bh_only} survive Benjamini-Hochberg alone; "
          f"{len(fired)} feature_drift alerts")
    assert raw >= 25  # the per-test 5 % rate: these windows would have raised ~50 alerts before
    assert bh_only >= 1  # the correction alone is not enough: confirmation is what removes them
    assert fired == [] and alerts.open == ()


def test_a_shifted_column_is_alerted_in_the_first_window_and_only_it() -> None:
    rng = np.random.default_rng(11)
    ref = frame(rng, 1000)
    alerts = DriftAlerts()
    alerts.update(outcome(0, run_drift(ref, frame(rng, 500), DriftSpec(), report=False)))
    shifted = run_drift(ref, frame(rng, 500, {"c07": 0.5}), DriftSpec(), report=False)
    assert not shifted.dataset_drift
    out = alerts.update(outcome(1, shifted)).alerts
    assert [(a.kind, a.signal, a.status) for a in out] == [
        (AlertKind.FEATURE_DRIFT, feature_signal("c07"), AlertStatus.FIRING)]
    assert out[0].evidence["confirmed_by"] == "overwhelming"
    assert out[0].evidence["adjusted_p_value"] <= 0.05 * 1e-4
    still = run_drift(ref, frame(rng, 500, {"c07": 0.5}), DriftSpec(), report=False)
    assert alerts.update(outcome(2, still)).alerts == ()  # still open: not raised twice
    clean = run_drift(ref, frame(rng, 500), DriftSpec(), report=False)
    assert [(a.signal, a.status) for a in alerts.update(outcome(3, clean)).alerts] == [
        (feature_signal("c07"), AlertStatus.RESOLVED)]


def test_a_significant_but_modest_drift_needs_a_second_window() -> None:
    rng = np.random.default_rng(12)
    ref = frame(rng, 1000)
    spec = DriftSpec()
    shift = {"c03": 0.25}
    first = run_drift(ref, frame(rng, 500, shift), spec, report=False)
    v = verdicts(first)["c03"]
    assert v.significant and not v.overwhelming, v
    alerts = DriftAlerts()
    assert [a for a in alerts.update(outcome(0, first)).alerts if a.kind is AlertKind.FEATURE_DRIFT] == []
    second = run_drift(ref, frame(rng, 500, shift), spec, report=False)
    assert verdicts(second)["c03"].significant
    out = [a for a in alerts.update(outcome(1, second)).alerts if a.kind is AlertKind.FEATURE_DRIFT]
    assert [a.signal for a in out] == [feature_signal("c03")]
    assert out[0].evidence["confirmed_by"] == "previous window"


def test_a_distance_blip_is_not_alerted_a_lasting_one_is() -> None:
    """Above 1,000 reference rows Evidently uses Wasserstein (threshold 0.1, a distance)."""
    rng = np.random.default_rng(13)
    ref = frame(rng, 5000)
    shift = {"c05": 0.14}  # normed Wasserstein ~0.14: past 0.1, short of 2 x 0.1
    runs = [run_drift(ref, frame(rng, 5000, s), DriftSpec(), report=False)
            for s in (None, shift, None, shift, shift)]
    assert runs[1].columns[5].method == "Wasserstein distance (normed)"
    assert [c.column for c in runs[1].drifted] == ["c05"] and runs[1].columns[5].score_kind == "distance"
    alerts = DriftAlerts()
    fired = [[a.signal for a in alerts.update(outcome(i, r)).alerts] for i, r in enumerate(runs)]
    assert fired == [[], [], [], [], [feature_signal("c05")]]  # the blip at 1 never; 3 and 4 in a row
    assert confirmed(runs[4], frozenset({"c05"})) == ("c05",)


def test_dataset_drift_confirms_its_columns_at_once() -> None:
    rng = np.random.default_rng(14)
    ref = frame(rng, 1000)
    shift = {c: 0.3 for c in COLS[:12]}
    r = run_drift(ref, frame(rng, 500, shift), DriftSpec(), report=False)
    assert r.dataset_drift
    out = [a for a in DriftAlerts().update(outcome(0, r)).alerts if a.kind is AlertKind.FEATURE_DRIFT]
    signals = {a.signal for a in out}
    assert signals and signals <= {feature_signal(c) for c in COLS[:12]}
    assert signals == {feature_signal(c) for c in significant(r)}
    assert "dataset drift" in {a.evidence["confirmed_by"] for a in out}
