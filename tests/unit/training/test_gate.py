from __future__ import annotations

import logging

import pytest

from glasswatch.alerting.routes import default_routing
from glasswatch.errors import GateFailed
from glasswatch.schemas.alert import Alert, AlertKind, Lineage, Severity
from glasswatch.testing.fakes import FakeNotifier
from glasswatch.training.alert_sink import notifier_sink, routed_sink
from glasswatch.training.gate import GateConfig, GateResult, enforce

LINEAGE = Lineage(model_version="4", mlflow_run_id="run-1", reference_digest="abc")
REFUSED = GateResult(False, {"roc_auc": 0.7}, champion_version="3",
                     champion_metrics={"roc_auc": 0.95}, reason="roc_auc value threshold check failed")


def test_thresholds_compare_with_the_champion_only_when_there_is_one() -> None:
    cfg = GateConfig(minimums={"roc_auc": 0.9}, min_relative_change=0.01)
    alone = cfg.thresholds(with_baseline=False)["roc_auc"]
    paired = cfg.thresholds(with_baseline=True)["roc_auc"]
    assert (alone.threshold, alone.min_relative_change, alone.greater_is_better) == (0.9, None, True)
    assert paired.min_relative_change == 0.01


def test_passed_gate_is_returned_untouched() -> None:
    sent: list[Alert] = []
    fake = FakeNotifier("log")
    ok = GateResult(True, {"roc_auc": 0.99})
    assert enforce(ok, "m", sink=sent.append) is ok
    assert enforce(ok, "m", sink=notifier_sink([fake])) is ok
    assert sent == []
    assert fake.attempts == 0


def test_refused_gate_alerts_then_raises() -> None:
    sent: list[Alert] = []
    with pytest.raises(GateFailed, match="roc_auc value threshold"):
        enforce(REFUSED, "churn", GateConfig(), lineage=LINEAGE, sink=sent.append)
    (alert,) = sent
    assert (alert.kind, alert.severity, alert.model) == (AlertKind.QUALITY_GATE, Severity.WARNING, "churn")
    assert alert.signal == "gate:accuracy_score,roc_auc"
    assert alert.evidence["champion_metrics"] == {"roc_auc": 0.95}
    assert alert.lineage == LINEAGE
    assert alert.links.playbook.endswith("quality_gate.md")


def test_refused_gate_sends_exactly_one_alert_through_the_notifier_seam() -> None:
    fake = FakeNotifier("pager")
    with pytest.raises(GateFailed):
        enforce(REFUSED, "churn", GateConfig(minimums={"roc_auc": 0.9}), lineage=LINEAGE,
                sink=notifier_sink([fake]))
    assert fake.attempts == 1
    (notification,) = fake.sent
    assert notification.receiver == "pager"
    (alert,) = fake.alerts
    assert alert.kind is AlertKind.QUALITY_GATE
    # evidence: the metric, its threshold and the champion's value
    assert alert.evidence["checks"] == [{
        "metric": "roc_auc", "value": 0.7, "minimum": 0.9, "champion": 0.95,
        "below_minimum": True, "worse_than_champion": True,
    }]
    assert alert.evidence["minimums"] == {"roc_auc": 0.9}
    assert alert.evidence["champion_version"] == "3"
    # lineage: the run and the model version that were refused
    assert (alert.lineage.mlflow_run_id, alert.lineage.model_version) == ("run-1", "4")
    assert alert.lineage.reference_digest == "abc"


def test_checks_name_the_metric_that_failed_and_a_missing_one() -> None:
    result = GateResult(False, {"roc_auc": 0.96, "accuracy_score": 0.80}, champion_version="3",
                        champion_metrics={"roc_auc": 0.95, "accuracy_score": 0.9}, reason="accuracy")
    sent: list[Alert] = []
    with pytest.raises(GateFailed):
        enforce(result, "churn", GateConfig(), sink=sent.append)
    checks = {row["metric"]: row for row in sent[0].evidence["checks"]}
    assert (checks["roc_auc"]["below_minimum"], checks["roc_auc"]["worse_than_champion"]) == (False, False)
    assert (checks["accuracy_score"]["below_minimum"], checks["accuracy_score"]["worse_than_champion"]) \
        == (True, True)
    first = GateResult(False, {"accuracy_score": 0.9}, reason="no roc_auc")  # no champion yet
    with pytest.raises(GateFailed):
        enforce(first, "churn", GateConfig(), sink=sent.append)
    rows = {row["metric"]: row for row in sent[1].evidence["checks"]}
    assert rows["roc_auc"] == {"metric": "roc_auc", "value": None, "minimum": 0.9, "champion": None,
                               "below_minimum": True, "worse_than_champion": False}
    assert sent[1].evidence["champion_metrics"] is None


def test_gate_alert_is_routed_like_any_alert_to_the_local_receivers() -> None:
    log, desktop, slack = FakeNotifier("log"), FakeNotifier("desktop"), FakeNotifier("slack")
    with pytest.raises(GateFailed):
        enforce(REFUSED, "churn", lineage=LINEAGE, sink=routed_sink(default_routing("local"), [log, desktop]))
    assert [a.kind for a in log.alerts] == [AlertKind.QUALITY_GATE]
    assert [a.kind for a in desktop.alerts] == [AlertKind.QUALITY_GATE]
    assert log.sent[0].group_key.startswith("/")  # the route tree's group key, as the router builds it
    # the same alert on a prod routing: a warning goes to slack (and the log), not to a desktop
    with pytest.raises(GateFailed):
        enforce(REFUSED, "churn", sink=routed_sink(default_routing("prod"), [slack, desktop, log]))
    assert len(slack.alerts) == 1 and len(desktop.alerts) == 1 and len(log.alerts) == 2


def test_a_failing_sink_does_not_hide_the_refusal(caplog: pytest.LogCaptureFixture) -> None:
    broken = FakeNotifier("pager").fail_next(1, retryable=False)
    with caplog.at_level(logging.ERROR, logger="glasswatch.training"), pytest.raises(GateFailed):
        enforce(REFUSED, "churn", sink=notifier_sink([broken]))
    assert broken.attempts == 1 and broken.sent == []
    assert "was not delivered" in caplog.text
    assert "pager: rejected the request" in caplog.text
