"""The ``glasswatch`` command line: a table of contents, and the one reader of the environment.

Each command group registers itself from ``glasswatch/commands/<group>.py`` (named after the
group: ``simulate``, ``dlq``, ``schemas``, ``silence``, ``routes``, ``router``, ...) through a
``register(app, context)`` function; ``context`` is a
:class:`~glasswatch.commands.context.CommandContext`: calling it gives the settings, its
``environ()`` a read-only snapshot of the environment.

**Start-up time.** :data:`COMMANDS` names every group with its module and one-line help, and the
root group (:class:`LazyGroup`) imports a module only when its group runs (or when its own
``--help`` is asked for): ``glasswatch --help`` imports typer and this table, nothing else of
glasswatch, no pydantic (tens of milliseconds instead of the 4-9 s that importing river, pandas,
scikit-learn and faust through every command module cost). Adding a group is one line in
:data:`COMMANDS`; ``tests/unit/test_cli_startup.py`` checks that the line's help matches the
command's own and that ``--help`` stays light. A command module keeps its heavy imports inside
the command function (see the rule in ``commands/``); ``bench/cli.py`` measures the start-up.
An entry whose module is not there (a group being written) is left out of the listing.

**Output.** ``--log-format text|json`` (before the command) picks the one log format of the
command and the worker (:mod:`glasswatch.logs`).

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
  Evidently (called before the first command module is imported, so before any command runs).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup

from glasswatch.commands.context import CommandContext
from glasswatch.errors import ConfigError, GlasswatchError
from glasswatch.logs import LogFormat, configure_logging

if TYPE_CHECKING:
    from glasswatch.settings import Settings

__all__ = ["COMMANDS", "COMMAND_MODULES", "CONTEXT", "CommandEntry", "LazyGroup", "app", "load_command",
           "load_settings", "main", "read_environ"]


@dataclass(frozen=True)
class CommandEntry:
    """A command or group of the root: its name, the module that registers it, its one-line help."""

    name: str
    module: str
    help: str


# What ``glasswatch --help`` lists, in its order (commands first, then groups). Each module defines
# ``register(app: typer.Typer, context: CommandContext)`` that adds exactly the command or group
# named here (a module that needs only settings may type ``context`` as ``Callable[[], Settings]``);
# ``help`` is the start of that command's own help, up to a colon or a full stop (a test compares them).
COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry("worker", "glasswatch.commands.worker",
                 "Run the glasswatch Faust worker: ingest, validate, dead-letter, statistics."),
    CommandEntry("status", "glasswatch.commands.status",
                 "Show the statistics and dead-letter counters kept by a running worker."),
    CommandEntry("simulate", "glasswatch.commands.simulate",
                 "Publish realistic synthetic prediction events (seeded) and malformed messages."),
    CommandEntry("demo", "glasswatch.commands.demo",
                 "Local demo: trained model, Kafka, worker, router, Slack sink; drift alerts, then resolves"),
    CommandEntry("replay", "glasswatch.commands.replay",
                 "Reproduce what the worker computed from exact Kafka offsets: statistics, windows, alerts."),
    CommandEntry("calibrate", "glasswatch.commands.calibrate",
                 "Calibrate a model's learned bands and drift detectors to a false-alarm budget."),
    CommandEntry("train", "glasswatch.commands.train",
                 "Train the example breast-cancer model (scikit-learn's bundled data, no download) with full "
                 "lineage and register it."),
    CommandEntry("check", "glasswatch.commands.check",
                 "Audit the reproducibility of an MLflow run: seeds, inputs, SHAP, thresholds, git commit."),
    CommandEntry("dlq", "glasswatch.commands.dlq", "Inspect the dead-letter topic."),
    CommandEntry("schemas", "glasswatch.commands.schemas", "Event contracts as JSON Schema."),
    CommandEntry("silence", "glasswatch.commands.silence",
                 "Mute alerts for a while (stored in the silences topic)."),
    CommandEntry("routes", "glasswatch.commands.routes", "Alert routing configuration."),
    CommandEntry("router", "glasswatch.commands.router",
                 "The alert router (alerts topic → Slack, PagerDuty, desktop, log)."),
    CommandEntry("reference", "glasswatch.commands.reference",
                 "Reference data sets of registered model versions (for drift)."),
    CommandEntry("drift", "glasswatch.commands.drift",
                 "Batch drift (Evidently) of production windows against the MLflow reference."),
    CommandEntry("alerts", "glasswatch.commands.alerts", "Open alerts: list, show, acknowledge."),
    CommandEntry("baseline", "glasswatch.commands.baseline",
                 "Accept a new normal for a model's learned bands and drift detectors."),
    CommandEntry("explain", "glasswatch.commands.explain",
                 "Sampled SHAP explanations of predictions and attribution drift."),
)


def _exists(module: str) -> bool:
    """Whether ``module`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


COMMAND_MODULES: tuple[str, ...] = tuple(e.module for e in COMMANDS if _exists(e.module))
"""The command modules that are there, in :data:`COMMANDS` order."""


def read_environ() -> Mapping[str, str]:
    """A read-only snapshot of the process environment, taken when a command runs."""
    return MappingProxyType(dict(os.environ))


def load_settings() -> Settings:
    """Read settings from the environment (once per command).

    ``GLASSWATCH_KAFKA_BOOTSTRAP`` is accepted as a short alias of ``GLASSWATCH_KAFKA__BOOTSTRAP``.
    """
    from pydantic import ValidationError as PydanticValidationError

    from glasswatch.settings import Settings

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


CONTEXT = CommandContext(settings=load_settings, environ=read_environ)


def load_command(entry: CommandEntry, context: CommandContext = CONTEXT) -> _click.Command:
    """Import ``entry.module``, let it register into a fresh Typer and return its click command.

    Telemetry of MLflow and Evidently is turned off before the first command module is imported."""
    from glasswatch.settings import disable_telemetry

    disable_telemetry()
    module = importlib.import_module(entry.module)
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    module.register(sub, context)
    command = typer.main.get_group(sub).commands.get(entry.name)
    if command is None:
        raise RuntimeError(f"{entry.module}.register() added no {entry.name!r} (see glasswatch.cli.COMMANDS)")
    return command


class _LazyCommands(MutableMapping[str, _click.Command]):
    """A group's commands by name: the names of :data:`COMMANDS` whose module is there, each loaded
    by :func:`load_command` the first time it is looked up."""

    def __init__(
        self, entries: tuple[CommandEntry, ...], load: Callable[[CommandEntry], _click.Command]
    ) -> None:
        self._entries = {e.name: e for e in entries if _exists(e.module)}
        self._load = load
        self._loaded: dict[str, _click.Command] = {}

    def peek(self, name: str) -> _click.Command | None:
        """The command if it is loaded already (never loads)."""
        return self._loaded.get(name)

    def entry(self, name: str) -> CommandEntry | None:
        return self._entries.get(name)

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self._loaded:
            entry = self._entries[name]  # KeyError: no such command
            self._loaded[name] = self._load(entry)
        return self._loaded[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._entries and name not in self._loaded:
            raise KeyError(name)
        self._entries.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._entries
        yield from (n for n in self._loaded if n not in self._entries)

    def __len__(self) -> int:
        return len(self._entries) + sum(1 for n in self._loaded if n not in self._entries)


class LazyGroup(TyperGroup):
    """The root group: lists :data:`COMMANDS` from the table and imports a command's module only
    when the command is run or its own help is shown (click's "lazily loading subcommands" pattern,
    with the help line taken from the table so that ``glasswatch --help`` imports none of them)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        lazy = _LazyCommands(COMMANDS, load_command)
        for name, command in self.commands.items():  # anything registered on ``app`` directly
            lazy[name] = command
        self.commands = lazy
        self._listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        commands = self.commands
        if self._listing and isinstance(commands, _LazyCommands):
            entry = commands.entry(cmd_name)
            loaded = commands.peek(cmd_name)
            if loaded is None and entry is not None:  # a stand-in that shows the help line
                return TyperCommand(name=entry.name, help=entry.help)
            return loaded
        return commands.get(cmd_name)

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="glasswatch",
    cls=LazyGroup,
    help="A Kafka-native glass-box monitor for ML models in production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    log_format: LogFormat = typer.Option(
        LogFormat.TEXT, "--log-format", case_sensitive=False,
        help="Log lines as text or as JSON objects (one per line: time, level, logger, message).",
    ),
) -> None:
    configure_logging(fmt=log_format)


def main() -> None:
    try:
        app()
    except GlasswatchError as exc:  # expected failures: one readable line, no traceback
        from glasswatch.schemas.text import printable

        typer.echo(f"error: {printable(str(exc))}", err=True)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
