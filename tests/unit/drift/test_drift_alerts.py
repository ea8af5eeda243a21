"""Drift alerts fire once per condition, resolve when a later window is clean, and are deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from glasswatch.drift.alerts import DriftAlerts, DriftOutcome, feature_signal
from glasswatch.drift.job import DriftResult, run_drift
from glasswatch.drift.spec import DriftSpec
from glasswatch.drift.window import DriftWindow
from glasswatch.schemas.alert import AlertKind, AlertStatus
from glasswatch.schemas.coords import OffsetRange

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHA = "ab" * 32


def window(i: int) -> DriftWindow:
    rng = OffsetRange(topic="preds", partition=1, first=1000 * i, last=1000 * i + 999)
    return DriftWindow(model="m", model_version="3", start=T0 + timedelta(hours=i),
                       end=T0 + timedelta(hours=i + 1), offsets=(rng,), windows=6, rows=1000)


def results() -> tuple[DriftResult, DriftResult]:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({c: rng.normal(size=800) for c in "abcd"}).assign(target=rng.integers(0, 2, 800))
    shifted = pd.DataFrame({c: rng.normal(2.0 if c in "ab" else (0.6 if c == "c" else 0), 1, 800)
                            for c in "abcd"}).assign(prediction=rng.integers(0, 2, 800))
    clean = pd.DataFrame({c: rng.normal(size=800) for c in "abcd"}).assign(prediction=rng.integers(0, 2, 800))
    spec = DriftSpec()
    return (run_drift(ref, shifted, spec, target="target", report=False),
            run_drift(ref, clean, spec, target="target", report=False))


def outcome(i: int, result: DriftResult) -> DriftOutcome:
    return DriftOutcome(window(i), result, reference_sha256=SHA, run_id=f"run{i}",
                        run_url=f"http://mlflow:5000/#/experiments/1/runs/run{i}",
                        report_url=f"http://mlflow:5000/get-artifact?path=drift%2Freport.html&run_uuid=run{i}",
                        config_hash="cafe")


def test_fire_once_resolve_once_with_evidence_and_lineage() -> None:
    shifted, clean = results()
    alerts = DriftAlerts()
    first = alerts.update(outcome(0, shifted)).alerts
    kinds = [(a.kind, a.signal) for a in first]
    assert kinds[0] == (AlertKind.DATA_DRIFT, "drift:dataset")
    drifted = [c["column"] for c in first[0].evidence["drifted_columns"]]
    assert drifted[:2] in (["a", "b"], ["b", "a"]) and "d" not in drifted
    assert drifted == [c.column for c in shifted.drifted]  # ranked by strength
    strengths = [c["strength"] for c in first[0].evidence["drifted_columns"]]
    assert strengths == sorted(strengths, reverse=True)
    assert {s for k, s in kinds if k is AlertKind.FEATURE_DRIFT} == {feature_signal(c) for c in drifted}
    a = first[0]
    assert a.lineage.mlflow_run_id == "run0" and a.lineage.reference_digest == SHA
    assert a.lineage.offsets == window(0).offsets and a.lineage.model_version == "3"
    assert a.links.mlflow_run == "http://mlflow:5000/#/experiments/1/runs/run0"
    assert a.evidence["report_url"].endswith("run_uuid=run0")
    assert a.replay_command == "glasswatch drift rerun run0"
    assert a.starts_at == window(0).end and a.status is AlertStatus.FIRING

    again = alerts.update(outcome(1, shifted)).alerts
    assert again == ()  # still open: no second alert for the same condition
    gone = alerts.update(outcome(2, clean)).alerts
    assert {x.fingerprint for x in gone} == {x.fingerprint for x in first}
    assert all(x.status is AlertStatus.RESOLVED and x.ends_at == window(2).end for x in gone)
    assert all(x.starts_at == window(0).end for x in gone) and alerts.open == ()


def test_deterministic_under_replay() -> None:
    shifted, clean = results()
    runs = [(0, shifted), (1, clean), (2, shifted), (3, shifted), (4, clean)]

    def play() -> list[tuple[str, str, str]]:
        al = DriftAlerts()
        return [(a.id, a.fingerprint, a.model_dump_json())
                for i, r in runs for a in al.update(outcome(i, r)).alerts]

    assert play() == play()
    assert len({fp for _, fp, _ in play()}) == len(DriftAlerts().update(outcome(0, shifted)).alerts)


def test_no_reference_once_per_model_until_a_run_resolves_it() -> None:
    _, clean = results()
    al = DriftAlerts()
    (a,) = al.no_reference(window(0), "no reference").alerts
    assert a.kind is AlertKind.NO_REFERENCE and a.signal == "reference"
    assert "glasswatch reference register m 3" in a.evidence["register_command"]
    assert al.no_reference(window(1), "no reference").alerts == ()
    resolved = [x for x in al.update(outcome(2, clean)).alerts if x.kind is AlertKind.NO_REFERENCE]
    assert [x.status for x in resolved] == [AlertStatus.RESOLVED]


def test_a_skipped_run_changes_nothing() -> None:
    shifted, _ = results()
    al = DriftAlerts()
    al.update(outcome(0, shifted))
    skipped = DriftResult(drift_share=0.5, skipped="3 rows < min_rows 100")
    assert al.update(outcome(1, skipped)).alerts == () and len(al.open) == len(
        DriftAlerts().update(outcome(0, shifted)).alerts)
