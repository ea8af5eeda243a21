"""MLflow fixtures for integration tests: a real ``mlflow server`` process per session.

``mlflow_server`` starts ``.venv/bin/mlflow server`` on a free port with a SQLite backend and a
local artifact root in a temp dir, waits for ``/health`` and stops the whole process group at
the end of the session. ``tracking_uri`` points the MLflow client at it for one test and undoes
the global settings (tracking URI, system-metrics sampling) afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from glasswatch.settings import disable_telemetry

disable_telemetry()  # before mlflow is imported anywhere in the session

MLFLOW_BIN = Path(sys.executable).with_name("mlflow")
START_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:  # noqa: S310 (local http)
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a private MLflow tracking + registry server (started once per session)."""
    root = tmp_path_factory.mktemp("mlflow")
    log = (root / "server.log").open("wb")
    # no job runner: its seven huey consumers (GenAI scoring, trace archival) are not needed here
    # and they double the start-up time on a small machine
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
                        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    for _attempt in range(2):  # the free port may be taken before the server binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [str(MLFLOW_BIN), "server", "--backend-store-uri", f"sqlite:///{root}/db.sqlite",
             "--default-artifact-root", str(root / "art"), "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None and not _healthy(url):
            time.sleep(0.3)
        if proc.poll() is None and _healthy(url):
            break
        _stop(proc)
    else:
        log.close()
        pytest.fail(f"mlflow server did not start; see {root / 'server.log'}:\n"
                    + (root / "server.log").read_text()[-3000:])
    try:
        yield url
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own group (start_new_session=True)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


@pytest.fixture
def tracking_uri(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the MLflow client at the session server for one test; restore globals after."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    # tracked_run(system_metrics_interval=...) writes these env vars; monkeypatch undoes them
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "1")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "1")
    mlflow.set_tracking_uri(mlflow_server)
    yield mlflow_server
    if mlflow.active_run() is not None:
        mlflow.end_run("FAILED")
    mlflow.set_tracking_uri(None)
