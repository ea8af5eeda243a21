"""Records forged on the alerts topic, against a real worker and broker: the alert pages answer
200/404 (never 500), show the forged text escaped, and no script runs in a real browser.

Whoever can write the alerts topic controls every string of an alert; an on-call engineer opens
the page from Slack. The worker reads alerts it does not remember back from the topic, past any
record that is not JSON or not a valid alert.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from glasswatch.schemas.alert import Alert, AlertKind, Lineage, Severity, fingerprint_of
from glasswatch.schemas.coords import OffsetRange

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration

PWN = "document.title=atob('UFdORUQ=')"  # sets the title to PWNED, a word the page never contains
SCRIPT = f"<script>{PWN}</script>"
XSS = f"{SCRIPT}<img src=x onerror=\"{PWN}\">\"onmouseover=\"{PWN}\" javascript:{PWN}"


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(kafka_bootstrap, tmp_path, partitions=1)
    yield w
    w.stop()


def _forged(base: str) -> Alert:
    return Alert.build(
        kind=AlertKind.THRESHOLD_STATIC,
        severity=Severity.CRITICAL,
        model=XSS,
        signal=XSS,
        summary=XSS,
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        labels={"team": XSS, XSS: "v"},
        evidence={"value": XSS, XSS: [XSS, 1.5]},
        lineage=Lineage(model_version=XSS, offsets=(OffsetRange(topic=XSS, partition=0, first=1, last=2),)),
        replay_command=XSS,
        dashboard_base=f"{base}/alerts",
        playbook_base=f"{base}/playbooks",
    )


async def _send(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (local worker)
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]

    def handle_data(self, data: str) -> None:
        self.text += data


def _assert_harmless(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    assert "script" not in p.tags and "img" not in p.tags
    assert not [k for k, _ in p.attrs if k.startswith("on")]
    hrefs = [v.strip().lower() for k, v in p.attrs if k in ("href", "src")]
    assert all(h.startswith(("/", "http://", "https://")) for h in hrefs), hrefs
    return p


def _headless_dom(url: str, profile: Path) -> str:
    """The DOM of ``url`` after Debian's headless chromium ran the page (scripts included)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: ./dev.sh test installs Debian's chromium")
        pytest.skip("chromium is not installed (./dev.sh test installs it)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom", url]
    out = subprocess.run([chromium, *flags], capture_output=True, text=True, timeout=90, check=True)
    return out.stdout


def _title(dom: str) -> str:
    start = dom.index("<title>") + len("<title>")
    return dom[start : dom.index("</title>", start)]


def test_forged_and_broken_alert_records_render_escaped_and_never_500(
    worker: WorkerProcess, tmp_path: Path
) -> None:
    worker.start()
    worker.wait_for(lambda s: True)  # pages up; the worker created its topics
    base = worker.url
    forged = _forged(base)
    fp = forged.fingerprint
    doc = forged.model_dump(mode="json")
    javascript_link = {**doc, "links": {**doc["links"], "mlflow_run": f"javascript:{PWN};//"}}
    records: list[tuple[bytes | None, bytes]] = [
        (fp.encode(), b"\xff{ this is not json"),  # first: the old reader died here (500)
        (None, b"not json either"),
        (fp.encode(), json.dumps({**doc, "id": SCRIPT}).encode()),  # refused by the contract
        (fp.encode(), json.dumps(javascript_link).encode()),  # refused by the contract
        (b"0000000000000000", json.dumps({**doc, "fingerprint": "<b>x</b>"}).encode()),
        (fp.encode(), forged.model_dump_json().encode()),  # valid contract, hostile text
    ]
    asyncio.run(_send(worker.settings.kafka.bootstrap, worker.settings.topics.alerts, records))

    unknown = fingerprint_of("nobody", "event_rate", "events:rate")
    status, body = _get(f"{base}/alerts/{unknown}/")
    assert status == 404, body  # was 500: the non-JSON record broke every unknown-fingerprint page
    _assert_harmless(body)
    status, body = _get(f"{base}/alerts/%3Cscript%3Edocument.title%3D1%3C%2Fscript%3E/")
    assert status == 404
    _assert_harmless(body)

    status, page = _get(f"{base}/alerts/{fp}/")
    assert status == 200, page
    parsed = _assert_harmless(page)
    assert parsed.text.count(XSS) >= 6  # shown to the engineer, as text
    assert f"javascript:{PWN};//" not in page  # the refused record's link is nowhere
    status, index = _get(f"{base}/alerts/")
    assert status == 200
    assert f'href="/alerts/{fp}/"' in index
    _assert_harmless(index)
    status, playbook = _get(f"{base}/playbooks/threshold_static.md")
    assert status == 200 and "How to fix" in playbook

    # a real browser: any forged script or handler that ran would have renamed the page PWNED
    shown = XSS.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as chromium serialises text
    titles = {f"{base}/alerts/{fp}/": f"threshold_static: {shown}", f"{base}/alerts/": "glasswatch alerts"}
    for n, (url, title) in enumerate(titles.items()):
        dom = _headless_dom(url, tmp_path / f"chromium-{n}")
        assert _title(dom) == title
        assert "PWNED" not in dom
        assert "<script" not in dom and "<img" not in dom

    # the worker is still healthy and says it skipped the bad records (logged once)
    assert worker.alive
    time.sleep(0.5)
    log = worker.log_path.read_text(errors="replace")
    assert log.count("skipping records of the alerts topic that are not valid alerts") == 1
