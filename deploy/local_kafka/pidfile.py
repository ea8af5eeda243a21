"""``<workdir>/kafka.pid``: how ``up`` in one process tells ``status`` and ``down`` in another.

One JSON object; brokers started by earlier versions of this launcher wrote the same, so keep it::

    {"pid": 10390, "port": 9092, "controller_port": 53715, "version": "4.1.1",
     "cluster_id": "WHC5Ja9jQTGkJ8krIGSwbQ", "started_at": 1795701975.71, "cds_dump": null}

A record counts only while its pid is alive and runs ``kafka.Kafka <workdir>/server.properties``:
after a reboot the pid may belong to anything.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .host import alive, cmdline
from .jvm import BROKER_MAIN

__all__ = ["live_record", "read_record", "write_record"]


def write_record(
    path: Path,
    *,
    pid: int,
    port: int,
    controller_port: int | None,
    version: str,
    cluster_id: str | None,
    cds_dump: Path | None,
) -> None:
    """Write the record of a broker just launched (``started_at`` is now)."""
    record = {
        "pid": pid, "port": port, "controller_port": controller_port, "version": version,
        "cluster_id": cluster_id, "started_at": time.time(), "cds_dump": str(cds_dump) if cds_dump else None,
    }  # fmt: skip
    path.write_text(json.dumps(record))


def read_record(path: Path) -> dict[str, object] | None:
    """The record in ``path`` when it is one (a JSON object with an integer ``pid``), else None."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    return record


def live_record(path: Path, config_file: Path) -> dict[str, object] | None:
    """The record of a live broker started with ``config_file``; None when missing or stale."""
    record = read_record(path)
    if record is None:
        return None
    pid = record["pid"]
    assert isinstance(pid, int)
    if not alive(pid):
        return None  # stale: the broker died
    argv = cmdline(pid)
    if BROKER_MAIN not in argv or str(config_file) not in argv:
        return None  # stale: the pid now belongs to another process
    return record
