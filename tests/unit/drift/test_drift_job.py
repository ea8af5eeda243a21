"""The drift job on synthetic frames: what Evidently flags, and the quality checks we add."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from glasswatch.drift.job import DriftResult, run_drift
from glasswatch.drift.spec import DriftSpec
from glasswatch.errors import ConfigError

N = 600


def frames(
    seed: int = 0, n: int = N, shift: dict[str, float] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def one(offsets: dict[str, float]) -> pd.DataFrame:
        return pd.DataFrame({
            "mean radius": rng.normal(14 + offsets.get("mean radius", 0.0), 3.5, n),
            "texture": rng.normal(19 + offsets.get("texture", 0.0), 4.0, n),
            "area": rng.lognormal(6.4 + offsets.get("area", 0.0), 0.4, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "target": rng.integers(0, 2, n),
        })

    return one({}), one(shift or {})


def test_a_shifted_column_is_flagged_and_ranked_first() -> None:
    ref, cur = frames(seed=1, shift={"mean radius": 3.0})
    r = run_drift(ref, cur, DriftSpec(), target="target", report=False)
    assert [c.column for c in r.drifted] == ["mean radius"]
    col = r.drifted[0]
    assert col.tested and col.drifted and col.strength > 1
    assert col.method == "K-S p_value" and col.score_kind == "p_value" and col.score is not None
    assert col.score < col.threshold  # type: ignore[operator]
    assert r.share_drifted == pytest.approx(1 / 4) and not r.dataset_drift
    assert [c.column for c in r.columns] == ["mean radius", "texture", "area", "plan"]  # target excluded


def test_an_unshifted_frame_of_the_same_size_is_not_flagged() -> None:
    ref, cur = frames(seed=1)
    r = run_drift(ref, cur, DriftSpec(), target="target", report=False)
    assert r.drifted == () and r.share_drifted == 0.0 and not r.dataset_drift
    assert all(c.tested for c in r.columns)


def test_dataset_drift_when_the_share_reaches_drift_share_and_distances_rank_by_strength() -> None:
    ref, cur = frames(n=1500, shift={"mean radius": 3.0, "texture": 1.0})
    r = run_drift(ref, cur, DriftSpec(drift_share=0.5), target="target", report=False)
    assert r.dataset_drift and r.share_drifted == pytest.approx(0.5)
    # above 1,000 reference rows Evidently's default is the normed Wasserstein distance
    assert {c.method for c in r.drifted} == {"Wasserstein distance (normed)"}
    assert [c.column for c in r.drifted] == ["mean radius", "texture"]  # the larger shift first
    assert all(c.score_kind == "distance" and c.score >= c.threshold for c in r.drifted)  # type: ignore[operator]


def test_per_column_method_and_threshold_from_the_spec() -> None:
    ref, cur = frames(shift={"texture": 0.3})
    spec = DriftSpec(per_column={"texture": {"method": "psi", "threshold": 0.5}})
    by_col = {c.column: c for c in run_drift(ref, cur, spec, target="target", report=False).columns}
    assert by_col["texture"].method == "PSI" and by_col["texture"].threshold == 0.5
    assert by_col["mean radius"].method == "K-S p_value"
    with pytest.raises(ConfigError, match="stattest"):
        run_drift(ref, cur, DriftSpec(method="no-such-test"), target="target", report=False)


def test_new_categories_out_of_range_values_and_missing_share_are_found() -> None:
    ref, cur = frames(seed=2)
    cur = cur.copy()
    cur.loc[:59, "plan"] = "enterprise"  # 10% in a category the reference never had
    cur.loc[:29, "area"] = 1e6  # 5% beyond the reference's max
    cur.loc[100:249, "texture"] = np.nan  # 25% missing (Evidently drops these silently)
    r = run_drift(ref, cur, DriftSpec(), target="target", report=False)
    by_col = {c.column: c for c in r.columns}
    assert by_col["plan"].new_categories == ("enterprise",)
    assert by_col["plan"].new_category_share == pytest.approx(0.1)
    assert 0.05 <= by_col["area"].out_of_range_share < 0.06  # type: ignore[operator]  (+ a few tails)
    assert by_col["area"].reference_max == pytest.approx(ref["area"].max())
    assert by_col["texture"].missing_share == pytest.approx(0.25)
    assert by_col["texture"].reference_missing_share == 0.0
    assert r.quality_issues == {
        "plan": ("new_categories",), "area": ("out_of_range",), "texture": ("missing",)}
    assert by_col["mean radius"].issues == ()


def test_a_column_without_values_is_reported_not_tested_and_a_short_window_is_skipped() -> None:
    ref, cur = frames(seed=3)
    r = run_drift(ref, cur.drop(columns=["texture"]), DriftSpec(), target="target", report=False)
    col = next(c for c in r.columns if c.column == "texture")
    assert not col.tested and col.missing_share == 1.0 and "too_few_values" in col.issues
    short = run_drift(ref, cur.head(10), DriftSpec(min_rows=50), target="target", report=False)
    assert short.skipped == "10 rows < min_rows 50" and short.columns == ()


def test_prediction_drift_against_the_reference_target_or_its_predictions() -> None:
    ref, cur = frames(seed=4)
    cur = cur.assign(prediction=np.where(np.arange(N) < N * 0.9, 1, 0))  # 90% positive vs ~50%
    r = run_drift(ref, cur, DriftSpec(), target="target", report=False)
    assert r.prediction is not None and r.prediction.drifted and r.prediction.column_type == "cat"
    same = run_drift(ref.assign(prediction=cur["prediction"].to_numpy()), cur, DriftSpec(), target="target",
                     report=False)
    assert same.prediction is not None and not same.prediction.drifted
    off = run_drift(ref, cur, DriftSpec(prediction=False), target="target", report=False)
    assert off.prediction is None


def test_results_are_deterministic_and_reports_name_the_columns() -> None:
    ref, cur = frames(shift={"area": 0.5})
    a = run_drift(ref, cur, DriftSpec(), target="target")
    b = run_drift(ref, cur, DriftSpec(), target="target")
    assert a.comparable() == b.comparable()
    assert "mean radius" in a.report_html and "<html" in a.report_html.lower()
    assert "mean radius" in a.report_json
    assert DriftResult.model_validate_json(a.model_dump_json()) == a


def test_the_job_opens_no_network_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Evidently's report path must not phone home (its telemetry lives in its UI service)."""
    calls: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        calls.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    ref, cur = frames(seed=5, shift={"texture": 2.0})
    r = run_drift(ref, cur, DriftSpec(), target="target")
    assert r.report_html and calls == []
