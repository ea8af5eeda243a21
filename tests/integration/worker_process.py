"""Run ``glasswatch worker`` as a real subprocess against a real broker, for integration tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glasswatch.commands.status import fetch_stats
from glasswatch.kafka.reader import read_topic
from glasswatch.monitor.replay import Message
from glasswatch.settings import KafkaSettings, Settings, TopicSettings, WorkerSettings

__all__ = ["FAST_GROUP", "WorkerProcess"]

FAST_GROUP = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}
"""Faust settings for tests that kill or crash a worker and start another in its group: the
group drops a dead member after 10 s instead of Faust's 60 s, so a restart is not left waiting
for the session of the process it replaces (under load, that wait alone ran past the tests'
timeouts)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WorkerProcess:
    """One worker with its own topics, app id, data dir and web port (tests stay independent)."""

    def __init__(self, bootstrap: str, workdir: Path, *, partitions: int = 4) -> None:
        tag = uuid.uuid4().hex[:8]
        self.workdir = workdir
        self.log_path = workdir / "worker.log"
        self.settings = Settings(
            kafka=KafkaSettings(bootstrap=bootstrap, partitions=partitions),
            topics=TopicSettings(
                predictions=f"t-{tag}-predictions",
                features=f"t-{tag}-features",
                labels=f"t-{tag}-labels",
                dead_letters=f"t-{tag}-dlq",
                windows=f"t-{tag}-windows",
                alerts=f"t-{tag}-alerts",
                silences=f"t-{tag}-silences",
            ),
            worker=WorkerSettings(app_id=f"gw-test-{tag}", data_dir=workdir / "data", web_port=_free_port()),
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra_env: dict[str, str] = {}
        """Added to the worker's environment last (e.g. Faust's ``BROKER_SESSION_TIMEOUT``)."""

    def sibling(self, workdir: Path) -> WorkerProcess:
        """Another worker of the same app (consumer group, topics, extra env) with its own data
        dir, web port and log: for runs with several workers."""
        other = WorkerProcess(
            self.settings.kafka.bootstrap, workdir, partitions=self.settings.kafka.partitions
        )
        own = self.settings.worker.model_copy(update={"data_dir": workdir / "data", "web_port": _free_port()})
        other.settings = self.settings.model_copy(update={"worker": own})
        other.extra_env = dict(self.extra_env)
        return other

    def state_changelog(self) -> list[Message]:
        """Every record of this worker's partition-state changelog topic, read to its end."""
        topic = f"{self.settings.worker.app_id}-partition-state-changelog"
        return asyncio.run(read_topic(self.settings.kafka.bootstrap, topic))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLASSWATCH_")}
        env["GLASSWATCH_KAFKA__BOOTSTRAP"] = s.kafka.bootstrap
        env["GLASSWATCH_KAFKA__PARTITIONS"] = str(s.kafka.partitions)
        for name, value in s.topics.model_dump().items():
            env[f"GLASSWATCH_TOPICS__{name.upper()}"] = value
        env["GLASSWATCH_WORKER__APP_ID"] = s.worker.app_id
        env["GLASSWATCH_WORKER__DATA_DIR"] = str(s.worker.data_dir)
        env["GLASSWATCH_WORKER__WEB_PORT"] = str(s.worker.web_port)
        env.update(self.extra_env)
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.worker.web_port}"

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "glasswatch", "worker", "--loglevel", "warning"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stats(self) -> dict[str, Any] | None:
        try:
            return fetch_stats(self.url, timeout_s=2.0)
        except Exception:
            return None

    def get(self, path: str) -> Any:
        import json
        import urllib.request

        with urllib.request.urlopen(self.url + path, timeout=60) as resp:  # noqa: S310 (local worker)
            return json.loads(resp.read())

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 120.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            snap = self.stats()
            if snap is not None:
                last = snap
                if predicate(snap):
                    return snap
            time.sleep(0.2)
        summary = {k: last.get(k) for k in ("accepted", "rejected", "rejects", "worker")} if last else None
        raise AssertionError(f"timed out; last stats {summary}\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
