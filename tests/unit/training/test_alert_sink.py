"""Where training alerts go: notifier and routed sinks, fallback, the log default."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from glasswatch.alerting.routes import default_routing
from glasswatch.errors import BrokerError, NotifyError
from glasswatch.schemas.alert import Alert, AlertKind, Severity
from glasswatch.testing.fakes import FakeNotifier
from glasswatch.training.alert_sink import log_sink, notifier_sink, routed_sink, with_fallback

ALERT = Alert.build(kind=AlertKind.QUALITY_GATE, severity=Severity.WARNING, model="churn",
                    signal="gate:roc_auc", summary="candidate refused",
                    starts_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_notifier_sink_tries_every_notifier_then_raises_the_failure() -> None:
    first = FakeNotifier("a").fail_next(1, retryable=True)
    second = FakeNotifier("b")
    with pytest.raises(NotifyError, match="a: temporarily unavailable"):
        notifier_sink([first, second])(ALERT)
    assert (first.attempts, first.sent) == (1, [])
    assert second.alerts == [ALERT]


def test_routed_sink_without_a_matching_notifier_is_an_error() -> None:
    with pytest.raises(NotifyError, match="no receiver"):
        routed_sink(default_routing("prod"), [FakeNotifier("desktop")])(ALERT)  # warning: slack, log


def test_critical_goes_where_the_route_tree_says() -> None:
    critical = ALERT.model_copy(update={"severity": Severity.CRITICAL,
                                        "labels": ALERT.labels | {"severity": "critical"}})
    pager, slack, log = FakeNotifier("pagerduty"), FakeNotifier("slack"), FakeNotifier("log")
    routed_sink(default_routing("prod"), [pager, slack, log])(critical)
    assert (len(pager.alerts), len(slack.alerts), len(log.alerts)) == (1, 0, 1)


def test_fallback_takes_over_only_when_the_primary_fails() -> None:
    fallback: list[Alert] = []

    def broker_down(alert: Alert) -> None:
        raise BrokerError("cannot reach Kafka")

    with_fallback(broker_down, fallback.append)(ALERT)
    assert fallback == [ALERT]
    primary: list[Alert] = []
    with_fallback(primary.append, fallback.append)(ALERT)
    assert (primary, len(fallback)) == ([ALERT], 1)

    def bug(alert: Alert) -> None:
        raise RuntimeError("not a delivery failure")

    with pytest.raises(RuntimeError):  # a bug is not hidden by the fallback
        with_fallback(bug, fallback.append)(ALERT)
    assert len(fallback) == 1


def test_log_sink_writes_one_alert_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="glasswatch.alerts"):
        log_sink(ALERT)
    (record,) = [r for r in caplog.records if r.name == "glasswatch.alerts"]
    assert "kind=quality_gate" in record.getMessage()
    assert ALERT.fingerprint in record.getMessage()
