"""Progress lines on stderr (stdout carries only results, e.g. the bootstrap printed by ``up``)."""

from __future__ import annotations

import sys

__all__ = ["say"]


def say(message: str) -> None:
    """Print ``[local-kafka] message`` on stderr, at once."""
    print(f"[local-kafka] {message}", file=sys.stderr, flush=True)
