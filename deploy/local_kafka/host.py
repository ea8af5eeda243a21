"""What the host tells us: free ports, live pids and their command lines; a watchdog for orphans."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from pathlib import Path

__all__ = ["alive", "cmdline", "free_port", "port_in_use", "start_watchdog"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie is gone for us)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def cmdline(pid: int) -> str:
    """The command line of ``pid``, arguments separated by spaces (``/proc``, else ``ps``)."""
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        with contextlib.suppress(OSError):
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    ps = ["ps", "-o", "command=", "-p", str(pid)]
    return subprocess.run(ps, capture_output=True, text=True, check=False).stdout


def start_watchdog(parent: int, pid: int) -> subprocess.Popen[bytes]:
    """An ``sh`` loop that stops ``pid`` (TERM, then KILL after 20 s) once ``parent`` is gone."""
    script = (
        f"while kill -0 {parent} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; "
        f"kill -TERM {pid} 2>/dev/null; i=0; "
        f"while kill -0 {pid} 2>/dev/null && [ $i -lt 20 ]; do sleep 1; i=$((i+1)); done; "
        f"kill -0 {pid} 2>/dev/null && kill -KILL {pid}"
    )
    return subprocess.Popen(
        ["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
