from __future__ import annotations

import logging

import pytest

from glasswatch.errors import GateFailed
from glasswatch.schemas.alert import Alert, AlertKind, Lineage, Severity
from glasswatch.training import notify
from glasswatch.training.gate import GateConfig, GateResult, enforce


def test_thresholds_compare_with_the_champion_only_when_there_is_one() -> None:
    cfg = GateConfig(minimums={"roc_auc": 0.9}, min_relative_change=0.01)
    alone = cfg.thresholds(with_baseline=False)["roc_auc"]
    paired = cfg.thresholds(with_baseline=True)["roc_auc"]
    assert (alone.threshold, alone.min_relative_change, alone.greater_is_better) == (0.9, None, True)
    assert paired.min_relative_change == 0.01


def test_passed_gate_is_returned_untouched() -> None:
    sent: list[Alert] = []
    ok = GateResult(True, {"roc_auc": 0.99})
    assert enforce(ok, "m", notifier=sent.append, desktop=False) is ok
    assert sent == []


def test_refused_gate_alerts_then_raises(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[Alert] = []
    refused = GateResult(False, {"roc_auc": 0.7}, champion_version="3",
                         champion_metrics={"roc_auc": 0.95}, reason="roc_auc value threshold check failed")
    lineage = Lineage(model_version="4", mlflow_run_id="run-1", reference_digest="abc")
    with caplog.at_level(logging.INFO, logger="glasswatch.training"), \
            pytest.raises(GateFailed, match="roc_auc value threshold"):
        enforce(refused, "churn", GateConfig(), lineage=lineage, notifier=sent.append, desktop=False)
    (alert,) = sent
    assert (alert.kind, alert.severity, alert.model) == (AlertKind.QUALITY_GATE, Severity.WARNING, "churn")
    assert alert.signal == "gate:accuracy_score,roc_auc"
    assert alert.evidence["champion_metrics"] == {"roc_auc": 0.95}
    assert alert.lineage == lineage
    assert alert.links.playbook.endswith("quality_gate.md")
    assert "desktop off" in caplog.text


def test_desktop_notify_falls_back_quietly_without_a_backend(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from plyer import notification

    def no_backend(**_: object) -> None:
        import warnings

        warnings.warn("notify-send not found.", UserWarning, stacklevel=1)  # what plyer does first
        raise NotImplementedError("No usable implementation found!")

    monkeypatch.setattr(notification, "notify", no_backend)
    with caplog.at_level(logging.INFO, logger="glasswatch.training"):
        assert notify.desktop_notify("title", "message") is False
    assert "no desktop backend: NotImplementedError" in caplog.text


def test_desktop_notify_uses_plyer_when_it_works(monkeypatch: pytest.MonkeyPatch) -> None:
    from plyer import notification

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(notification, "notify", lambda **kw: seen.append(kw))
    assert notify.desktop_notify("t", "m") is True
    assert seen[0]["app_name"] == "glasswatch"
