"""Online detection end to end: simulated changes through the real broker raise the right alerts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from glasswatch.client import Publisher
from glasswatch.commands.dlq import read_topic_json
from glasswatch.schemas import Alert, AlertKind, AlertStatus, fingerprint_of
from glasswatch.testing.simulate import simulate

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration

N, CHANGE_AT, REVERT_AT = 45_000, 25_000, 33_000  # 100 events/s, 10 s windows: ~1,000 events each
WINDOW = timedelta(seconds=10)
SCENARIOS: dict[str, tuple[float, AlertKind, str, tuple[str, ...]]] = {
    # change -> (magnitude, expected kind, expected signal, signal prefixes allowed to alert)
    "mean_shift": (1.0, AlertKind.THRESHOLD_DYNAMIC, "feature:x0:mean", ("feature:x0:", "anomaly:")),
    "variance": (2.0, AlertKind.THRESHOLD_DYNAMIC, "feature:x0:std", ("feature:x0:", "anomaly:")),
    "category_mix": (1.0, AlertKind.THRESHOLD_DYNAMIC, "feature:segment:category_mix", ("feature:segment:",)),
    "missing_rate": (0.2, AlertKind.MISSING_RATE, "feature:x0:missing_rate", ("feature:x0:", "anomaly:")),
    "event_rate": (5.0, AlertKind.EVENT_RATE, "events:rate", ("events:",)),
}
CLEAN_N = 100_000


@pytest.fixture(scope="module")
def detection_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One worker, one model per scenario plus a clean 100,000-event model; all alerts read back."""
    workdir = tmp_path_factory.mktemp("detection")
    models = [*SCENARIOS, "clean"]
    spec = workdir / "monitors.yaml"
    spec.write_text("\n---\n".join(f"model: {m}\nwindow: {{size_seconds: 10}}\n" for m in models))
    worker = WorkerProcess(kafka_bootstrap, workdir)
    env = worker.env
    worker.env = lambda: {**env(), "GLASSWATCH_WORKER__MONITOR_SPECS": str(spec)}  # type: ignore[method-assign]
    start = datetime.now(UTC) - timedelta(seconds=CLEAN_N / 100 + 60)
    streams = {
        c: simulate(
            N,
            n_features=4,
            change=c,
            change_at=CHANGE_AT,
            revert_at=REVERT_AT,
            magnitude=m,
            seed=7,
            model=c,
            start=start,
        )  # type: ignore[arg-type]
        for c, (m, *_) in SCENARIOS.items()
    }
    streams["clean"] = simulate(CLEAN_N, n_features=4, seed=11, model="clean", start=start)
    total = sum(len(v) for v in streams.values())

    async def publish() -> None:
        async with Publisher(
            kafka_bootstrap, topic=worker.settings.topics.predictions, batch_size=500
        ) as pub:
            for recs in streams.values():
                for r in recs:
                    await pub.publish(r.event)

    worker.start()
    try:
        asyncio.run(publish())
        snap = worker.wait_for(lambda s: s["accepted"] >= total, timeout_s=600)
        assert snap["rejected"] == 0, snap["rejects"]
        alerts = [
            Alert.model_validate(a)
            for a in asyncio.run(read_topic_json(kafka_bootstrap, worker.settings.topics.alerts))
        ]
        yield {"streams": streams, "alerts": alerts, "snap": snap, "bootstrap": kafka_bootstrap}
    finally:
        worker.stop()


@pytest.mark.parametrize("change", list(SCENARIOS))
def test_each_change_raises_its_alert_only_and_resolves(change: str, detection_run: dict[str, Any]) -> None:
    _, kind, signal, allowed = SCENARIOS[change]
    recs = detection_run["streams"][change]
    alerts = [a for a in detection_run["alerts"] if a.model == change]
    assert [(a.kind.value, a.signal) for a in alerts if not a.signal.startswith(allowed)] == []
    fp = fingerprint_of(change, kind.value, signal)
    firing = [a for a in alerts if a.fingerprint == fp and a.status is AlertStatus.FIRING]
    assert firing, f"{kind.value} on {signal} never fired: {[(a.kind.value, a.signal) for a in alerts]}"
    changed_at = recs[CHANGE_AT].event.event_time
    assert changed_at <= firing[0].starts_at <= changed_at + 4 * WINDOW
    resolved = [a for a in alerts if a.fingerprint == fp and a.status is AlertStatus.RESOLVED]
    assert resolved, "the stream went back to normal but the alert never resolved"
    reverted_at = recs[REVERT_AT].event.event_time
    assert resolved[0].ends_at is not None
    assert reverted_at <= resolved[0].ends_at <= reverted_at + 5 * WINDOW
    # lineage points back at the Kafka offsets of the window, with a replay command
    off = firing[0].lineage.offsets[0]
    assert off.topic.endswith("-predictions")
    assert firing[0].replay_command and f"{off.first}-{off.last}" in firing[0].replay_command


def test_a_clean_stream_of_100k_events_raises_no_alert(detection_run: dict[str, Any]) -> None:
    assert [a for a in detection_run["alerts"] if a.model == "clean"] == []
    assert detection_run["snap"]["models"]["clean"]["events"] == {"prediction": CLEAN_N}


def test_replay_from_kafka_reproduces_the_alert_exactly(
    detection_run: dict[str, Any], tmp_path: Path
) -> None:
    """The glass-box promise: the alert's offsets, replayed with the same spec, give the same alert."""
    import json as _json

    from typer.testing import CliRunner

    from glasswatch.cli import app

    _, kind, signal, _ = SCENARIOS["mean_shift"]
    fp = fingerprint_of("mean_shift", kind.value, signal)
    alert = next(a for a in detection_run["alerts"] if a.fingerprint == fp and a.status is AlertStatus.FIRING)
    off = alert.lineage.offsets[0]
    spec = tmp_path / "spec.yaml"
    spec.write_text("model: mean_shift\nwindow: {size_seconds: 10}\n")
    dump = tmp_path / "events.jsonl"
    env = {"GLASSWATCH_KAFKA__BOOTSTRAP": detection_run["bootstrap"]}
    args = [
        "replay",
        "--model",
        "mean_shift",
        "--offsets",
        f"{off.topic}:{off.partition}:{off.first}-{off.last}",
        "--from",
        "0",
        "--spec",
        str(spec),
        "--dump",
        str(dump),
        "--json",
    ]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    (report,) = _json.loads(result.stdout)  # the summary line goes to stderr
    assert report["config_hash"] == alert.lineage.config_hash
    replayed = [Alert.model_validate(a) for a in report["alerts"]]
    same = [a for a in replayed if a.id == alert.id]
    assert same, "the replay did not reproduce the alert"
    assert same[0].evidence == alert.evidence
    assert any(w["stream"] == "feature:x0" for w in report["windows"])
    assert sum(1 for _ in dump.open()) == report["messages"]


def test_every_alert_links_to_a_working_dashboard_page_and_playbook(detection_run: dict[str, Any]) -> None:
    import urllib.request

    alerts = detection_run["alerts"]
    kinds_seen = {a.kind for a in alerts}
    assert len(kinds_seen) >= 3
    for kind in kinds_seen:
        a = next(x for x in alerts if x.kind is kind)
        with urllib.request.urlopen(a.links.dashboard, timeout=10) as resp:  # noqa: S310 (local worker)
            page = resp.read().decode()
        assert resp.status == 200
        assert a.fingerprint in a.links.dashboard
        assert a.signal in page
        assert "glasswatch replay --model" in page
        with urllib.request.urlopen(a.links.playbook, timeout=10) as resp:  # noqa: S310
            playbook = resp.read().decode()
        assert "How to check" in playbook
        assert "How to fix" in playbook


def _headless_dom(url: str, tmp_path: Path) -> str:
    """The DOM of ``url`` as rendered by Debian's chromium, headless (no downloaded browser)."""
    import os
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: ./dev.sh test installs Debian's chromium")
        pytest.skip("chromium is not installed (./dev.sh test installs it)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--dump-dom",
        url,
    ]
    out = subprocess.run([chromium, *flags], capture_output=True, text=True, timeout=90, check=True)
    return out.stdout


def test_alert_pages_render_in_a_headless_browser(detection_run: dict[str, Any], tmp_path: Path) -> None:
    alert = next(a for a in detection_run["alerts"] if a.model == "event_rate")
    dom = _headless_dom(alert.links.dashboard, tmp_path)
    assert 'id="summary"' in dom
    assert alert.summary.split(" ")[0] in dom
    assert 'id="evidence"' in dom
    assert 'id="lineage"' in dom
    assert alert.lineage.offsets[0].topic in dom
    assert f'href="{alert.links.playbook}"' in dom
    index = _headless_dom(alert.links.dashboard.split("/alerts/")[0] + "/alerts/", tmp_path)
    assert f'href="/alerts/{alert.fingerprint}/"' in index
    playbook = _headless_dom(alert.links.playbook, tmp_path)
    assert "How to fix" in playbook
