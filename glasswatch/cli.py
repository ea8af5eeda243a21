"""The ``glasswatch`` command line. The only place settings are read from the environment.

Each area registers its commands from ``glasswatch/commands/<area>.py`` through a
``register(app, settings_factory)`` function, so this file stays a table of contents.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

import typer
from pydantic import ValidationError as PydanticValidationError

from glasswatch.errors import ConfigError, GlasswatchError
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
    "glasswatch.commands.worker",
    "glasswatch.commands.traffic",
    "glasswatch.commands.demo",
    "glasswatch.commands.replay",
    "glasswatch.commands.training",
    "glasswatch.commands.routing",
)


def load_settings() -> Settings:
    """Read settings from the environment (once per command).

    ``GLASSWATCH_KAFKA_BOOTSTRAP`` is accepted as a short alias of ``GLASSWATCH_KAFKA__BOOTSTRAP``.
    """
    try:
        settings = Settings()
    except PydanticValidationError as exc:
        raise ConfigError(f"invalid GLASSWATCH_* environment settings:\n{exc}") from exc
    short = os.environ.get("GLASSWATCH_KAFKA_BOOTSTRAP")
    if short and not os.environ.get("GLASSWATCH_KAFKA__BOOTSTRAP"):
        kafka = settings.kafka.model_copy(update={"bootstrap": short})
        settings = settings.model_copy(update={"kafka": kafka})
    return settings


def _register_all(settings: Callable[[], Settings]) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app, settings)


_register_all(load_settings)


def main() -> None:
    disable_telemetry()
    try:
        app()
    except GlasswatchError as exc:  # expected failures: one readable line, no traceback
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
