"""What a broker that failed to start said: its first errors and the tails of its logs."""

from __future__ import annotations

from pathlib import Path

__all__ = ["first_errors", "log_tails", "tail"]


def first_errors(path: Path, limit: int = 12) -> str:
    """The first ERROR/FATAL lines of a Kafka log with their exception and ``Caused by`` lines."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    picked: list[str] = []
    for i, line in enumerate(text):
        if "] ERROR " in line or "] FATAL " in line:
            picked.append(line)
            if i + 1 < len(text) and not text[i + 1].startswith("["):
                picked.append(text[i + 1])  # the exception message
        elif line.startswith("Caused by:") and line not in picked:
            picked.append(line)
        if len(picked) >= limit:
            break
    return "\n".join(picked)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of ``path``, or a note that it is missing or empty."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text[-lines:]) or f"({path.name} is empty)"


def log_tails(server_log: Path) -> str:
    """First errors of ``server.log``, then the tails of it and of ``kafka.out`` beside it."""
    out = server_log.with_name("kafka.out")
    errors = first_errors(server_log)
    first = f"--- first errors in {server_log} ---\n{errors}\n" if errors else ""
    return (
        f"{first}--- tail of {server_log} ---\n{tail(server_log, 20)}\n--- tail of {out} ---\n{tail(out, 20)}"
    )
