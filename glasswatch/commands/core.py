"""Core commands: worker, simulate, status, schemas export, demo (filled in by the ingest work)."""

from __future__ import annotations

from collections.abc import Callable

import typer

from glasswatch.settings import Settings


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach this area's commands to ``app``."""
    del app, settings
