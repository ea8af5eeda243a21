"""Debian's real Prometheus scrapes a real worker; Debian's real Alertmanager receives glasswatch
alerts (binaries and servers: :mod:`tests.prometheus_servers`)."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from glasswatch.alerting.notify.alertmanager import AlertmanagerNotifier
from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.build import build_notifiers
from glasswatch.alerting.routes import load_routing
from glasswatch.commands.simulate import simulate_traffic
from glasswatch.schemas.alert import AlertKind, Severity
from glasswatch.testing.routing import alert, resolved
from tests.prometheus_servers import alertmanager, get_json, prometheus

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(kafka_bootstrap, tmp_path / "worker")
    w.workdir.mkdir()
    yield w
    w.stop()


def _until(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = fetch()
        if ok(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out; last answer: {last!r}")


def _query(prom: str, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
    doc = get_json(f"{prom}/api/v1/query?query={urllib.parse.quote(expr)}")
    assert doc["status"] == "success", doc
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in doc["data"]["result"]}


def _one(result: dict[tuple[tuple[str, str], ...], float]) -> float:
    """The value of a query answered by exactly one series."""
    (value,) = result.values()
    return value


def test_prometheus_scrapes_the_worker(worker: WorkerProcess, tmp_path: Path) -> None:
    n_good, n_bad = 1200, 7
    spec = worker.workdir / "churn.yaml"  # 2 s windows: the 12 s of simulated traffic close some
    spec.write_text("model: churn\nwindow: {size_seconds: 2, allowed_lateness_seconds: 0}\n")
    worker.extra_env["GLASSWATCH_WORKER__MONITOR_SPECS"] = str(spec)
    worker.start()
    worker.wait_for(lambda s: True)  # its web server is up
    with prometheus(tmp_path / "prometheus", f"127.0.0.1:{worker.settings.worker.web_port}") as prom:
        sent = asyncio.run(
            simulate_traffic(worker.settings, model="churn", events=n_good, bad=n_bad, batch_size=100, seed=5)
        )
        assert (sent["good"], sent["bad"]) == (n_good, n_bad)
        worker.wait_for(lambda s: s["accepted"] >= n_good and s["rejected"] >= n_bad)

        up = _until(lambda: _query(prom, 'up{job="glasswatch"}'), lambda r: list(r.values()) == [1.0])
        ((labels, _),) = up.items()
        port = worker.settings.worker.web_port
        assert dict(labels)["instance"] == f"127.0.0.1:{port}"  # default path: /metrics, no slash

        events = _until(
            lambda: _query(prom, "glasswatch_model_events_total"), lambda r: sum(r.values()) >= n_good
        )
        assert {dict(k)["model"]: v for k, v in events.items()} == {"churn": n_good}
        assert _one(_query(prom, "glasswatch_events_accepted_total")) == n_good
        rejected = _until(lambda: _query(prom, "sum(glasswatch_events_rejected_total)"), lambda r: r != {})
        assert _one(rejected) == n_bad
        assert _one(_query(prom, "glasswatch_batch_seconds_count")) >= 1
        assert _one(_query(prom, "process_resident_memory_bytes")) > 10_000_000
        # every input partition this worker holds has a lag series; all were applied
        lag = _until(
            lambda: _query(prom, f'glasswatch_consumer_lag{{topic="{worker.settings.topics.predictions}"}}'),
            lambda r: len(r) == worker.settings.kafka.partitions and max(r.values()) == 0,
        )
        partitions = {str(p) for p in range(worker.settings.kafka.partitions)}
        assert {dict(k)["partition"] for k in lag} == partitions
        assert _one(_query(prom, 'glasswatch_windows_closed_total{model="churn"}')) >= 3
        rate = _one(_query(prom, 'glasswatch_signal_value{model="churn", signal="events:rate"}'))
        assert 50 <= rate <= 150  # the simulator's 100 events/s of event time

        # the shipped rules load and evaluate against the real series
        groups = get_json(f"{prom}/api/v1/rules")["data"]["groups"]
        rules = {r["name"]: r for g in groups for r in g["rules"]}
        assert len(rules) == 5 and "GlasswatchConsumerLagHigh" in rules
        _until(
            lambda: get_json(f"{prom}/api/v1/rules")["data"]["groups"][0]["rules"],
            lambda rs: all(r["health"] == "ok" and "lastEvaluation" in r for r in rs),
        )
        down = get_json(f"{prom}/api/v1/alerts")["data"]["alerts"]
        assert not [a for a in down if a["labels"]["alertname"] == "GlasswatchWorkerDown"]


def _am_alerts(am: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = get_json(f"{am}/api/v2/alerts")
    return alerts


def test_alertmanager_receives_and_resolves_glasswatch_alerts(tmp_path: Path) -> None:
    with alertmanager(tmp_path / "alertmanager") as am:
        cfg = load_routing(
            f"""
receivers:
  - {{name: platform, kind: alertmanager, url: "{am}"}}
route: {{receiver: platform}}
"""
        )
        notifiers, _ = build_notifiers(cfg, {}, env="prod")
        notifier = notifiers["platform"]
        assert isinstance(notifier, AlertmanagerNotifier)
        a = alert("feature:age:mean", kind=AlertKind.THRESHOLD_DYNAMIC, severity=Severity.CRITICAL,
                  labels={"team": "ml"})  # fmt: skip
        other = alert("events:rate", kind=AlertKind.EVENT_RATE)
        notifier.send(Notification(receiver="platform", group_key="g", alerts=(a, other),
                                   repeat_interval=timedelta(hours=1)))  # fmt: skip

        got = _until(lambda: _am_alerts(am), lambda r: len(r) == 2)
        mine = next(x for x in got if x["labels"]["fingerprint"] == a.fingerprint)
        assert mine["labels"] == {
            "alertname": "threshold_dynamic",
            "kind": "threshold_dynamic",
            "model": "churn",
            "signal": "feature:age:mean",
            "severity": "critical",
            "fingerprint": a.fingerprint,
            "team": "ml",
        }
        assert mine["status"]["state"] == "active"
        assert mine["annotations"]["summary"] == a.summary
        assert mine["annotations"]["playbook"] == a.links.playbook
        assert mine["generatorURL"] == a.links.dashboard
        assert [r["name"] for r in mine["receivers"]] == ["blackhole"]  # routed by Alertmanager's own tree

        notifier.send(Notification(receiver="platform", group_key="g", alerts=(resolved(a),)))
        left = _until(lambda: _am_alerts(am), lambda r: len(r) == 1)
        assert left[0]["labels"]["fingerprint"] == other.fingerprint  # the resolved one is gone
        assert left[0]["status"]["state"] == "active"
