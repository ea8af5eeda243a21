"""The ``glasswatch`` command line. The only place settings are read from the environment.

Each area registers its commands from ``glasswatch/commands/<area>.py`` through a
``register(app, settings_factory)`` function, so this file stays a table of contents.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import typer

from glasswatch.settings import Settings, disable_telemetry

__all__ = ["app", "main"]

app = typer.Typer(
    name="glasswatch",
    help="A Kafka-native glass-box monitor for ML models in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Areas with commands. Each module defines ``register(app: typer.Typer, settings: Callable[[], Settings])``.
COMMAND_MODULES: tuple[str, ...] = (
    "glasswatch.commands.core",
)


def load_settings() -> Settings:
    """Read settings from the environment (once per command)."""
    return Settings()


def _register_all(settings: Callable[[], Settings]) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app, settings)


_register_all(load_settings)


def main() -> None:
    disable_telemetry()
    app()


if __name__ == "__main__":
    main()
