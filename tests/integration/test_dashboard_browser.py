"""The dashboard in a real browser, on a live alert through the real broker.

A worker monitors one model whose ``feature:x0:mean`` shifts past a static bound; headless
chromium (Debian's, driven by Playwright) walks home → model → alert → acknowledge → playbook and
the dead-letter page, follows every link it finds, checks that the plots were drawn with data and
that no page logged a console error or threw. Screenshots are kept under the test's tmp dir and
``.artifacts/screenshots/`` (CI keeps them). Then the worker restarts: the open alerts, the ack
and the windows come back from the topics, and ``glasswatch alerts`` shows the same.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from glasswatch.client import Publisher
from glasswatch.kafka.ack_store import AckStore
from glasswatch.schemas.alert import fingerprint_of
from glasswatch.testing.simulate import simulate

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"
MODEL = "churn"
SPEC = """\
model: churn
window: {size_seconds: 10}
anomaly: {enabled: false}
default: {dynamic: {warmup: 5}, detectors: []}
signals:
  "feature:x0:mean": {severity: critical, static: {upper: 1.5}, dynamic: {warmup: 5}, detectors: []}
"""
N, CHANGE_AT = 12_000, 8_000  # 100 events/s, 10 s windows: the shift starts in window 8
FP = fingerprint_of(MODEL, "threshold_static", "feature:x0:mean")


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: ./dev.sh test installs Debian's chromium")
        pytest.skip("chromium is not installed (./dev.sh test installs it)")
    return found


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    spec = tmp_path / "monitors.yaml"
    spec.write_text(SPEC)
    w = WorkerProcess(kafka_bootstrap, tmp_path, partitions=1)
    w.extra_env["GLASSWATCH_WORKER__MONITOR_SPECS"] = str(spec)
    yield w
    w.stop()


async def _publish(w: WorkerProcess) -> int:
    start = datetime.now(UTC) - timedelta(seconds=N / 100 + 30)
    recs = simulate(N, n_features=2, change="mean_shift", change_at=CHANGE_AT, magnitude=3.0, seed=3,
                    model=MODEL, start=start)  # fmt: skip
    async with Publisher(
        w.settings.kafka.bootstrap, topic=w.settings.topics.predictions, batch_size=500
    ) as pub:
        for r in recs:
            await pub.publish(r.event)
    producer = AIOKafkaProducer(bootstrap_servers=w.settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for bad in (b"{ not json", b'{"type": "prediction", "model": "churn"}'):
            await producer.send_and_wait(w.settings.topics.predictions, bad, key=MODEL.encode())
    finally:
        await producer.stop()
    return len(recs)


def _html(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (local worker)
        return str(resp.read().decode())


def _wait_for_page(url: str, needle: str, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    body = ""
    while time.monotonic() < deadline:
        try:
            body = _html(url)
        except OSError:
            body = ""
        if needle in body:
            return body
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} never appeared on {url}:\n{body[:2000]}")


class Browser:
    """One chromium page that records console errors, page errors and failed responses."""

    def __init__(self, page: Any, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def shot(self, name: str) -> None:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, ARTIFACTS / path.name)

    def plots_with_data(self) -> list[int]:
        """Points of the value trace of every drawn plot on the page."""
        self.page.wait_for_selector("div.plot[data-drawn]", timeout=30_000)
        return list(self.page.eval_on_selector_all(
            "div.plot[data-drawn]",
            "ds => ds.map(d => Math.max(0, ...d.data.filter(t => t.name === 'value').map(t => t.y.length)))",
        ))  # fmt: skip

    def links(self) -> set[str]:
        hrefs = self.page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        return {h.split("#")[0] for h in hrefs}


def test_dashboard_walkthrough_on_a_live_alert_then_a_restart(worker: WorkerProcess, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    worker.start()
    worker.wait_for(lambda s: True)
    total = asyncio.run(_publish(worker))
    worker.wait_for(lambda s: s["accepted"] >= total, timeout_s=300)
    base = worker.url
    _wait_for_page(f"{base}/alerts/", f"/alerts/{FP}/")
    _wait_for_page(f"{base}/", "/models/?name=churn")
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        b = Browser(browser.new_page(viewport={"width": 1280, "height": 900}), shots)
        page = b.page
        visited: set[str] = set()

        page.goto(f"{base}/")
        assert page.title() == "glasswatch models"
        assert page.locator("#models a.model", has_text=MODEL).count() == 1
        assert page.locator("#lag").inner_text() != ""
        b.shot("1-home")
        visited.add(page.url)
        to_follow = b.links()

        page.locator("#models a.model", has_text=MODEL).click()
        page.wait_for_load_state()
        assert page.locator("h1#model").inner_text() == MODEL
        points = b.plots_with_data()
        assert len(points) >= 3 and min(points) >= 5, points  # every signal plotted with its windows
        x0 = page.locator("h3.signal", has_text="feature:x0:mean")
        assert x0.count() == 1
        b.shot("2-model")
        visited.add(page.url)
        to_follow |= b.links()

        page.locator(f"#open-alerts a[href='/alerts/{FP}/']").click()
        page.wait_for_load_state()
        assert page.locator("#status").inner_text() == "firing"
        assert b.plots_with_data()[0] >= 5
        traces = page.eval_on_selector("#alert-plot", "d => d.data.map(t => t.name)")
        assert "value" in traces and "static upper" in traces and "alert firing" in traces, traces
        assert "not acknowledged" in page.locator("#ack").inner_text()
        b.shot("3-alert")
        to_follow |= b.links()

        page.fill("#ack-form input[name=by]", "oncall-ana")
        page.fill("#ack-form input[name=note]", "looking <b>now</b>")
        page.click("#ack-button")
        page.wait_for_load_state()
        assert page.url.endswith(f"/alerts/{FP}/?done=ack")
        assert "acknowledged by oncall-ana" in page.locator("#ack").inner_text()
        assert "looking <b>now</b>" in page.locator("#ack").inner_text()  # shown as text
        b.shot("4-acked")

        page.click("#playbook")
        page.wait_for_load_state()
        assert page.locator("#playbook-text h1").count() == 1  # rendered markdown, not <pre>
        b.shot("5-playbook")
        visited.add(page.url)
        to_follow |= b.links()

        page.goto(f"{base}/dead-letters/")
        assert page.locator("#reasons", has_text="not_json").count() == 1
        assert page.locator("td.coords", has_text=f"{worker.settings.topics.predictions}[0]@").count() >= 1
        b.shot("6-dead-letters")
        visited.add(page.url)

        # every link of the pages, one level deep from each page they lead to
        queue = sorted(u for u in to_follow if u.startswith(base))
        while queue and len(visited) < 80:
            url = queue.pop(0)
            if url in visited:
                continue
            visited.add(url)
            resp = page.goto(url)
            assert resp is not None and resp.status == 200, url
            queue += sorted(u for u in b.links() - visited if u.startswith(base) and u not in queue)
        assert b.errors == []
        browser.close()

    acks = asyncio.run(_load_acks(worker))
    assert acks[FP].by == "oncall-ana"

    # durable state: a new worker process rebuilds alerts, ack and windows from the topics
    stopping = time.monotonic()
    worker.stop()
    assert worker.proc is not None and worker.proc.returncode == 0, worker.log_tail()
    assert time.monotonic() - stopping < 25  # the follower task does not hold the shutdown up
    log = worker.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "could not read" not in log, worker.log_tail()
    worker.start()
    page_after = _wait_for_page(f"{base}/alerts/", f"/alerts/{FP}/")
    assert "firing" in page_after
    alert_page = _wait_for_page(f"{base}/alerts/{FP}/", "acknowledged by")
    assert 'id="alert-plot"' in alert_page
    out = subprocess.run([sys.executable, "-m", "glasswatch", "alerts", "list"], env=worker.env(),
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    row = next(line for line in out.stdout.splitlines() if line.startswith(FP))
    assert "critical" in row and "oncall-ana" in row
    shown = subprocess.run([sys.executable, "-m", "glasswatch", "alerts", "show", FP], env=worker.env(),
                           capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert "acknowledged by oncall-ana" in shown.stdout and "replay: glasswatch replay" in shown.stdout


async def _load_acks(w: WorkerProcess) -> dict[str, Any]:
    store = AckStore.connect(w.settings.kafka.bootstrap, w.settings.topics.acks)
    try:
        return dict(await store.load())
    finally:
        await store.close()
