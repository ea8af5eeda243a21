"""What a worker writes into files (issue 13): JSON log lines, no escape codes, its dashboard URL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def test_a_redirected_worker_logs_json_without_escape_codes_and_prints_its_dashboard(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka_bootstrap, tmp_path, partitions=1)
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            # at warning Faust's spinner is on: before issue 13 it wrote cursor codes into the file
            [sys.executable, "-m", "glasswatch", "--log-format", "json", "worker", "--loglevel", "warning"],
            env=worker.env(), stdout=out, stderr=err,
        )
        try:
            deadline = time.monotonic() + 120
            while "dashboard:" not in out_path.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, err_path.read_text()[-3000:]
                time.sleep(0.3)
            stdout = out_path.read_text()
            assert f"dashboard: {worker.url}/\n" in stdout, err_path.read_text()[-3000:]
            with urllib.request.urlopen(worker.url + "/glasswatch/stats/", timeout=30) as resp:  # noqa: S310
                assert resp.status == 200  # the printed address serves the worker's pages
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    stdout, stderr = out_path.read_bytes(), err_path.read_bytes()
    assert b"\x1b" not in stdout and b"\x1b" not in stderr  # no spinner, no colours, no cursor codes
    assert stdout.decode().splitlines() == [f"dashboard: {worker.url}/"]  # Faust's own output is logged
    records = [json.loads(line) for line in stderr.decode().splitlines()]
    assert records and all(set(r) >= {"time", "level", "logger", "message"} for r in records)
    loud = [r for r in records if r["level"] in ("WARNING", "ERROR", "CRITICAL")
            and "Group Coordinator Request failed" in r["message"]]
    assert loud == []
