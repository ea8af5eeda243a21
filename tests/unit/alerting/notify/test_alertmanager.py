"""The Alertmanager receiver against a local HTTP server speaking just enough API v2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from glasswatch.alerting.notify.alertmanager import API_PATH, AlertmanagerNotifier, postable_alert
from glasswatch.alerting.notify.base import Notification, Notifier
from glasswatch.alerting.notify.build import build_notifiers
from glasswatch.alerting.routes import load_routing
from glasswatch.errors import NotifyError
from glasswatch.schemas.alert import AlertKind, Severity
from glasswatch.testing.routing import alert, resolved
from tests.fake_servers import FakeServer, Recorded, Reply

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


class FakeAlertmanager(FakeServer):
    """``POST /api/v2/alerts``: 200 with an empty body, or the scripted reply."""

    def respond(self, rec: Recorded, reply: Reply | None) -> tuple[int, Any, dict[str, str]]:
        if rec.path != API_PATH:
            return 404, b"not found", {}
        if reply is not None:
            return reply.status, reply.body if reply.body is not None else b"", reply.headers
        return 200, b"", {}


@pytest.fixture
def am() -> Iterator[FakeAlertmanager]:
    with FakeAlertmanager() as server:
        assert isinstance(server, FakeAlertmanager)
        yield server


def _notifier(url: str) -> AlertmanagerNotifier:
    return AlertmanagerNotifier("platform", url=url + "/", timeout=2, clock=lambda: NOW)


def test_firing_and_resolved_alerts_are_posted_with_labels_and_annotations(am: FakeAlertmanager) -> None:
    a = alert("feature:age:mean", kind=AlertKind.THRESHOLD_STATIC, severity=Severity.CRITICAL,
              labels={"team": "ml", "bad-name": "x", "empty": ""},
              replay_command="glasswatch replay x")  # fmt: skip
    n = _notifier(am.url)
    assert isinstance(n, Notifier)
    n.send(Notification(receiver="platform", group_key="g", alerts=(a,), repeat_interval=timedelta(hours=1)))
    n.send(Notification(receiver="platform", group_key="g", alerts=(resolved(a),)))
    firing, resolve = (r.body for r in am.accepted)
    assert [r.path for r in am.requests] == [API_PATH, API_PATH]
    assert am.requests[0].headers["content-type"] == "application/json"
    (doc,) = firing
    assert doc["labels"] == {
        "alertname": "threshold_static",
        "model": "churn",
        "signal": "feature:age:mean",
        "severity": "critical",
        "kind": "threshold_static",
        "fingerprint": a.fingerprint,
        "team": "ml",  # the alert's own labels; invalid names and empty values left out
    }
    assert doc["annotations"] == {
        "summary": a.summary,
        "dashboard": a.links.dashboard,
        "playbook": a.links.playbook,
        "replay_command": "glasswatch replay x",
    }
    assert doc["generatorURL"] == a.links.dashboard
    assert datetime.fromisoformat(doc["startsAt"]) == a.starts_at
    assert datetime.fromisoformat(doc["endsAt"]) == NOW + timedelta(hours=2)  # 2 x repeat_interval
    (done,) = resolve
    assert done["labels"] == doc["labels"]  # the same alert for Alertmanager
    assert datetime.fromisoformat(done["endsAt"]) == NOW  # resolved now


@pytest.mark.parametrize(
    ("reply", "retryable", "after"),
    [
        (Reply(429, headers={"Retry-After": "7"}), True, 7.0),
        (Reply(503), True, None),
        (Reply(500), True, None),
        (Reply(400, body=b"bad alert"), False, None),
    ],
)
def test_errors_map_like_every_receiver(
    am: FakeAlertmanager, reply: Reply, retryable: bool, after: object
) -> None:
    am.script(reply)
    with pytest.raises(NotifyError) as info:
        _notifier(am.url).send(Notification(receiver="platform", group_key="g", alerts=(alert(),)))
    assert info.value.retryable is retryable and info.value.retry_after == after
    assert str(info.value).startswith(f"alertmanager platform: HTTP {reply.status}")
    # then it works
    _notifier(am.url).send(Notification(receiver="platform", group_key="g", alerts=(alert(),)))
    assert len(am.accepted) == 1


def test_unreachable_is_retryable_and_bad_url_refused() -> None:
    with pytest.raises(NotifyError) as info:
        _notifier("http://127.0.0.1:9").send(Notification(receiver="p", group_key="g", alerts=(alert(),)))
    assert info.value.retryable
    with pytest.raises(ValueError, match="http"):
        AlertmanagerNotifier("p", url="file:///etc/passwd")


def test_hostile_values_travel_as_json_strings() -> None:
    a = alert('x"} 1\n', model="evil\\model\u202e")
    doc = postable_alert(a, now=NOW, hold=timedelta(hours=1))
    assert doc["labels"]["model"] == "evil\\model\u202e" and doc["labels"]["signal"] == 'x"} 1\n'


def test_registered_as_a_receiver_kind() -> None:
    cfg = load_routing(
        """
receivers:
  - {name: platform, kind: alertmanager, url: "http://alertmanager:9093"}
route: {receiver: platform}
"""
    )
    notifiers, _ = build_notifiers(cfg, {}, env="prod")
    assert isinstance(notifiers["platform"], AlertmanagerNotifier)
    assert notifiers["platform"].url == "http://alertmanager:9093"
    with pytest.raises(ValueError, match="http"):
        load_routing("receivers: [{name: p, kind: alertmanager, url: 'ftp://x'}]\nroute: {receiver: p}\n")
