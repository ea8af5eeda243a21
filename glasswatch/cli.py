"""The ``glasswatch`` command line: a table of contents, and the one reader of the environment.

Each command group registers itself from ``glasswatch/commands/<group>.py`` (named after the
group: ``simulate``, ``dlq``, ``schemas``, ``silence``, ``routes``, ``router``, ...) through a
``register(app, context)`` function; ``context`` is a
:class:`~glasswatch.commands.context.CommandContext`: calling it gives the settings, its
``environ()`` a read-only snapshot of the environment.

The environment is read here and nowhere else: :func:`load_settings` builds the typed, frozen
:class:`~glasswatch.settings.Settings` (``GLASSWATCH_*`` variables) and :func:`read_environ`
takes the snapshot that commands hand down for what settings cannot name in advance (receiver
secrets a routing file references by variable name, the desktop session, a child process's
environment). Library code takes an ``environ`` mapping as a parameter instead of reading
``os.environ``. ``tests/unit/test_environment_reads.py`` enforces the rule; its exceptions:

- ``training/capture.py::fix_seeds`` *sets* ``PYTHONHASHSEED`` (and ``CUBLAS_WORKSPACE_CONFIG``)
  so that child processes are seeded;
- ``training/capture.py::instance_type`` and ``alerting/notify/desktop.py::DesktopNotifier``
  take ``environ`` as an optional parameter and fall back to ``os.environ`` when a library
  caller passes none (commands pass the snapshot from here);
- ``settings.py::disable_telemetry`` *sets* defaults that turn off the phone-home of MLflow and
  Evidently (called by :func:`main` before any command runs).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import MappingProxyType

import typer
from pydantic import ValidationError as PydanticValidationError

from glasswatch.commands.context import CommandContext
from glasswatch.errors import ConfigError, GlasswatchError
from glasswatch.schemas.text import printable
from glasswatch.settings import Settings, disable_telemetry

__all__ = ["COMMAND_MODULES", "app", "load_settings", "main", "read_environ"]

app = typer.Typer(
    name="glasswatch",
    help="A Kafka-native glass-box monitor for ML models in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command groups, in the order ``glasswatch --help`` lists them (commands first, then groups).
# Each module defines ``register(app: typer.Typer, context: CommandContext)``; a module that needs
# only settings may type ``context`` as ``Callable[[], Settings]``.
COMMAND_MODULES: tuple[str, ...] = (
    "glasswatch.commands.worker",
    "glasswatch.commands.status",
    "glasswatch.commands.simulate",
    "glasswatch.commands.dlq",
    "glasswatch.commands.schemas",
    "glasswatch.commands.demo",
    "glasswatch.commands.replay",
    "glasswatch.commands.train",
    "glasswatch.commands.check",
    "glasswatch.commands.silence",
    "glasswatch.commands.routes",
    "glasswatch.commands.router",
    "glasswatch.commands.reference",
    "glasswatch.commands.drift",
)


def read_environ() -> Mapping[str, str]:
    """A read-only snapshot of the process environment, taken when a command runs."""
    return MappingProxyType(dict(os.environ))


def load_settings() -> Settings:
    """Read settings from the environment (once per command).

    ``GLASSWATCH_KAFKA_BOOTSTRAP`` is accepted as a short alias of ``GLASSWATCH_KAFKA__BOOTSTRAP``.
    """
    try:
        settings = Settings()
    except PydanticValidationError as exc:
        raise ConfigError(f"invalid GLASSWATCH_* environment settings:\n{exc}") from exc
    environ = read_environ()
    short = environ.get("GLASSWATCH_KAFKA_BOOTSTRAP")
    if short and not environ.get("GLASSWATCH_KAFKA__BOOTSTRAP"):
        kafka = settings.kafka.model_copy(update={"bootstrap": short})
        settings = settings.model_copy(update={"kafka": kafka})
    return settings


def _register_all(context: CommandContext) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app, context)


_register_all(CommandContext(settings=load_settings, environ=read_environ))


def main() -> None:
    disable_telemetry()
    try:
        app()
    except GlasswatchError as exc:  # expected failures: one readable line, no traceback
        typer.echo(f"error: {printable(str(exc))}", err=True)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
