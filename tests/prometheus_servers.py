"""Debian's real ``prometheus`` and ``prometheus-alertmanager`` for tests, on loopback.

Binaries (installed by ``./dev.sh test`` from Debian's packages ``prometheus`` and
``prometheus-alertmanager``): ``prometheus``, ``promtool``, ``prometheus-alertmanager``, ``amtool``,
found on ``PATH`` (``/usr/bin`` on Debian). A missing binary skips the test, or fails it under
``CI``. Each server gets a free port and its own temp dir (config, storage, log): the packages'
own services (ports 9090 and 9093, if systemd started them) are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = ["alertmanager", "binary", "get_json", "prometheus"]

START_TIMEOUT_S = 60.0


def binary(name: str) -> str:
    """The path of a Debian binary, or skip (fail under ``CI``) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (./dev.sh test installs Debian's prometheus packages)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (local test server)
        return json.loads(resp.read())


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (local test server)
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def _serve(argv: list[str], ready: str, root: Path, port: int) -> Iterator[str]:
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while proc.poll() is None and time.monotonic() < deadline and not _ready(url + ready):
                time.sleep(0.2)
            if proc.poll() is not None or not _ready(url + ready):
                pytest.fail(f"{argv[0]} did not start:\n" + log_path.read_text()[-3000:])
            yield url
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


@contextmanager
def prometheus(root: Path, scrape_target: str, *, interval_s: int = 1) -> Iterator[str]:
    """A Prometheus scraping ``scrape_target`` (``host:port``) every ``interval_s`` as job
    ``glasswatch``, with the shipped rules loaded; yields its base URL."""
    root.mkdir(parents=True, exist_ok=True)
    rules = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "rules.yml"
    (root / "rules.yml").write_text(rules.read_text())
    (root / "prometheus.yml").write_text(
        f"global: {{scrape_interval: {interval_s}s, evaluation_interval: {interval_s}s}}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs:\n"
        f"  - {{job_name: glasswatch, static_configs: [{{targets: ['{scrape_target}']}}]}}\n"
    )
    port = _free_port()
    argv = [
        binary("prometheus"),
        f"--config.file={root / 'prometheus.yml'}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]
    with _serve(argv, "/-/ready", root, port) as url:
        yield url


@contextmanager
def alertmanager(root: Path) -> Iterator[str]:
    """An Alertmanager with one no-op receiver and no cluster; yields its base URL."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "alertmanager.yml").write_text(
        "route: {receiver: blackhole, group_wait: 1s, group_interval: 1s}\nreceivers: [{name: blackhole}]\n"
    )
    port = _free_port()
    argv = [
        binary("prometheus-alertmanager"),
        f"--config.file={root / 'alertmanager.yml'}",
        f"--storage.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip port: one instance, nothing else to bind
    ]
    with _serve(argv, "/-/ready", root, port) as url:
        yield url
