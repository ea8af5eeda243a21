"""One log format for every command and the worker: text for people, JSON lines for machines.

``glasswatch --log-format text|json <command>`` picks it (the root callback in
:mod:`glasswatch.cli` calls :func:`configure_logging`); commands that log at INFO call
``configure_logging(logging.INFO)`` and keep the chosen format; the worker re-formats the handlers
Faust installs with :func:`apply_format` (Faust's own colour format is replaced, so no escape codes
reach a file). The JSON form is one object per line with ``time`` (ISO 8601, UTC), ``level``,
``logger`` and ``message`` (plus ``exc`` with the traceback when there is one); it is ASCII, so a
control character in a message reaches the reader escaped, never raw.

Records go to the ``sys.stderr`` of the moment they are emitted (like :data:`logging.lastResort`),
so a test that swaps ``sys.stderr`` never leaves a handler writing to a closed stream. Standard
library only: ``glasswatch --help`` imports this module.

Examples
--------
>>> import logging
>>> rec = logging.LogRecord("glasswatch.cli", logging.INFO, __file__, 1, "up %s", ("\\x1b[2J",), None)
>>> rec.created = 0.0
>>> print(JsonFormatter().format(rec))
{"time": "1970-01-01T00:00:00.000Z", "level": "INFO", "logger": "glasswatch.cli", "message": "up \\u001b[2J"}
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO

__all__ = ["TEXT_FORMAT", "JsonFormatter", "LogFormat", "apply_format", "configure_logging", "current_format",
           "formatter"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The text form: ``2026-01-01 12:00:00,000 WARNING glasswatch.agents.outbox: publish failed ...``."""


class LogFormat(StrEnum):
    """The values of ``--log-format``."""

    TEXT = "text"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time``, ``level``, ``logger``, ``message``
    (and ``exc``, the formatted traceback, when the record carries one)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        doc: dict[str, str] = {
            "time": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        return json.dumps(doc, ensure_ascii=True)


def formatter(fmt: LogFormat | str) -> logging.Formatter:
    """The formatter of ``fmt`` (``text`` or ``json``)."""
    return JsonFormatter() if LogFormat(fmt) is LogFormat.JSON else logging.Formatter(TEXT_FORMAT)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is emitted (not as it was when created)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it; always stderr
        pass


_current = LogFormat.TEXT


def current_format() -> LogFormat:
    """The format chosen by the last :func:`configure_logging` call (``text`` until then)."""
    return _current


def configure_logging(level: int | None = None, fmt: LogFormat | str | None = None) -> logging.Handler:
    """Give the root logger one glasswatch handler on stderr in format ``fmt`` (default: the one
    chosen before, see :func:`current_format`) and, unless ``level`` is None, that level.

    Handlers others installed (pytest's, an application's) are left alone; a glasswatch handler
    installed before is replaced, so calling it twice never prints a record twice."""
    global _current
    if fmt is not None:
        _current = LogFormat(fmt)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(formatter(_current))
    root.addHandler(handler)
    if level is not None:
        root.setLevel(level)
    return handler


def apply_format(logger: logging.Logger, fmt: LogFormat | str | None = None) -> None:
    """Re-format every handler of ``logger`` in ``fmt`` (default :func:`current_format`): how the
    worker brings the handlers Faust configured into the one format."""
    chosen = formatter(_current if fmt is None else fmt)
    for handler in logger.handlers:
        handler.setFormatter(chosen)
