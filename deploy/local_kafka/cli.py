"""``up | status | down | fetch`` from a shell (the justfile's ``kafka-*`` recipes).

Exit codes: 0 done (``status``: running and answering), 1 ``status`` found no answering broker,
2 a :class:`~local_kafka.errors.LocalKafkaError` (message on stderr, e.g. how to install Java).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from .console import say
from .errors import LocalKafkaError, ProbeError
from .fetch import DEFAULT_VERSION
from .probe import probe
from .process import DEFAULT_WORKDIR, LocalKafka

__all__ = ["DESCRIPTION", "main", "parser"]

DESCRIPTION = "A real single-node Kafka broker (KRaft) on 127.0.0.1 for development and tests."


def parser() -> argparse.ArgumentParser:
    """The command line; ``KAFKA_PORT`` and ``KAFKA_VERSION`` provide defaults."""
    p = argparse.ArgumentParser(prog="local_kafka", description=DESCRIPTION)
    p.add_argument("command", choices=["up", "down", "status", "fetch"])
    p.add_argument("--port", type=int, default=int(os.environ.get("KAFKA_PORT") or 9092))
    p.add_argument("--controller-port", type=int, default=None)
    p.add_argument("--dir", type=Path, default=DEFAULT_WORKDIR, help="state directory (data, logs, pid)")
    p.add_argument("--version", default=os.environ.get("KAFKA_VERSION") or DEFAULT_VERSION)
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    p.add_argument("--fresh", action="store_true", help="up: delete topics and offsets first")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = parser().parse_args(argv)
    kafka = LocalKafka(
        args.port, args.controller_port, args.dir, version=args.version, startup_timeout=args.timeout
    )
    try:
        if args.command == "fetch":
            print(kafka.fetch())
        elif args.command == "up":
            _up(kafka, fresh=args.fresh)
        elif args.command == "down":
            stopped = kafka.stop()
            say(f"stopped in {kafka.timings['stop_s']:.1f}s" if stopped else "not running")
        else:
            return _status(kafka)
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _up(kafka: LocalKafka, *, fresh: bool) -> None:
    if kafka.running() is None and fresh:
        shutil.rmtree(kafka.data_dir, ignore_errors=True)
    was_running = kafka.running() is not None
    kafka.start()
    state = "already running" if was_running else f"ready in {kafka.timings.get('ready_s', 0):.1f}s"
    say(f"Kafka {kafka.version} {state} on {kafka.bootstrap} (logs: {kafka.log_file})")
    print(kafka.bootstrap)


def _status(kafka: LocalKafka) -> int:
    info = kafka.running()
    if info is None:
        print("not running")
        return 1
    try:
        brokers, cluster_id = probe("127.0.0.1", int(str(info["port"])))
    except ProbeError as exc:
        print(f"pid {info['pid']} alive but not answering on port {info['port']}: {exc}")
        return 1
    print(f"running pid={info['pid']} bootstrap=127.0.0.1:{info['port']} "
          f"version={info['version']} cluster_id={cluster_id} brokers={brokers}")  # fmt: skip
    return 0
