"""Rate-limit repeated log records: a broker outage is one line per cause per interval, not thousands.

During a 30 s broker outage aiokafka, faust and glasswatch's own publisher retry loop log the
same warning many times a second (4,146 WARN/ERROR lines once). :class:`RepeatFilter` lets the
first record of a kind through, drops the repeats for ``interval_s`` and appends how many it
dropped to the next one let through: ``publish failed ... (repeated 812 times in 30s)``.

A record's kind is (logger name, level, message template with digits folded, exception class):
the template, not the formatted message, so "Unable connect to node 1" and "... node 2" are one
kind, while two different exceptions are two. Only loggers under ``prefixes`` are limited; the
filter remembers at most ``max_kinds`` kinds (the oldest forgotten first). The clock is injected
(``time.monotonic`` by default) so the behaviour is testable.

Examples
--------
>>> import logging
>>> now = [0.0]
>>> f = RepeatFilter(interval_s=30, clock=lambda: now[0])
>>> def rec(msg, *args):
...     return logging.LogRecord("aiokafka.conn", logging.ERROR, __file__, 1, msg, args, None)
>>> [f.filter(rec("Unable connect to node %s", i)) for i in range(4)]
[True, False, False, False]
>>> now[0] = 31.0
>>> r = rec("Unable connect to node %s", 9)
>>> f.filter(r), r.getMessage()
(True, 'Unable connect to node 9 (repeated 3 times in 31s)')

:class:`StartupNoise` is the other half: the records every worker start logs at ERROR or WARNING
although nothing is wrong (``Group Coordinator Request failed: [Error 15]
CoordinatorNotAvailableError`` while the broker creates ``__consumer_offsets``, a topic not yet in
the metadata right after it was created) are logged at DEBUG until the worker is ready or
``grace_s`` has passed, whichever comes first; after that they keep their level (a coordinator
that stays away is a real problem, and the repeat filter limits it). Only the messages listed in
:data:`STARTUP_NOISE` are demoted, each on the logger that writes it.

>>> noise = StartupNoise(grace_s=60, clock=lambda: now[0])
>>> def coordinator():
...     return logging.LogRecord("aiokafka.consumer.group_coordinator", logging.ERROR, __file__, 1,
...                              "Group Coordinator Request failed: %s", ("CoordinatorNotAvailable",), None)
>>> r = coordinator()
>>> noise.filter(r), r.levelname  # demoted, so dropped unless the logger logs DEBUG
(False, 'DEBUG')
>>> r = coordinator()
>>> noise.ready().filter(r), r.levelname  # once the worker is ready it keeps its level
(True, 'ERROR')
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["DEFAULT_PREFIXES", "STARTUP_NOISE", "RepeatFilter", "StartupNoise", "install_repeat_filter"]

DEFAULT_PREFIXES = ("glasswatch", "aiokafka", "faust", "kafka", "mode")
"""Loggers whose repeated records are limited (a name equal to one or under it)."""

_DIGITS = re.compile(r"\d+")


@dataclass
class _Kind:
    since: float
    dropped: int = 0


class RepeatFilter(logging.Filter):
    """Let one record per kind through per ``interval_s``; count the rest (see module docstring)."""

    def __init__(
        self,
        interval_s: float = 30.0,
        *,
        prefixes: Iterable[str] = DEFAULT_PREFIXES,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1024,
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.prefixes = tuple(prefixes)
        self.min_level = min_level
        self.clock = clock
        self.max_kinds = max_kinds
        self._kinds: OrderedDict[tuple[str, int, str, str], _Kind] = OrderedDict()
        self._last: tuple[logging.LogRecord, bool] | None = None

    def _limited(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self.prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level or not self._limited(record.name):
            return True
        last = self._last
        if last is not None and last[0] is record:  # the same record at the next handler
            return last[1]
        verdict = self._judge(record)
        self._last = (record, verdict)
        return verdict

    def _judge(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, record.levelno, _DIGITS.sub("#", str(record.msg))[:300], exc)
        now = self.clock()
        kind = self._kinds.get(key)
        if kind is not None and now - kind.since < self.interval_s:
            kind.dropped += 1
            return False
        if kind is not None and kind.dropped:
            try:
                text = record.getMessage()
            except Exception:  # a bad format string: leave the record as it is
                text = str(record.msg)
            record.msg = f"{text} (repeated {kind.dropped} times in {now - kind.since:.0f}s)"
            record.args = ()  # not None: faust's formatter wraps it as (None,) and "%" then fails
        self._kinds[key] = _Kind(now)
        self._kinds.move_to_end(key)
        while len(self._kinds) > self.max_kinds:
            self._kinds.popitem(last=False)
        return True


def install_repeat_filter(logger: logging.Logger | None = None, interval_s: float = 30.0) -> RepeatFilter:
    """Add one :class:`RepeatFilter` to every handler of ``logger`` (the root logger by default;
    call it after logging is configured) and return it."""
    target = logger or logging.getLogger()
    flt = RepeatFilter(interval_s)
    for handler in target.handlers:
        handler.addFilter(flt)
    return flt


STARTUP_NOISE: tuple[tuple[str, str], ...] = (
    # retried until the broker has created __consumer_offsets / elected the group coordinator
    ("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed: %s"),
    ("aiokafka.consumer.group_coordinator", "OffsetCommit failed before join, ignoring: %s"),
    # a topic created a moment ago (the worker creates its topics, Faust its changelogs)
    ("aiokafka.cluster", "Topic %s not found in cluster metadata"),
    ("aiokafka.cluster", "Topic %s is not available during auto-create initialization"),
)
"""(logger name, message template) of the records a worker start logs although nothing is wrong."""


class StartupNoise(logging.Filter):
    """Log the records of :data:`STARTUP_NOISE` at DEBUG until :meth:`ready` or ``grace_s`` after
    creation (see the module docstring). Add it to the loggers with :meth:`install`."""

    def __init__(
        self,
        grace_s: float = 120.0,
        *,
        noise: Iterable[tuple[str, str]] = STARTUP_NOISE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.grace_s = grace_s
        self.noise = tuple(noise)
        self.clock = clock
        self._until = clock() + grace_s
        self._known = frozenset(self.noise)

    @property
    def active(self) -> bool:
        """Whether start-up records are still demoted."""
        return self.clock() < self._until

    def ready(self) -> StartupNoise:
        """The worker is up: from now on these records keep their level."""
        self._until = self.clock()
        return self

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno > logging.DEBUG
            and isinstance(record.msg, str)
            and (record.name, record.msg) in self._known
            and self.active
        ):
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True

    def install(self) -> StartupNoise:
        """Add this filter to every logger named in ``noise`` (a logger's filters see the records
        logged on it, which is where these are written), replacing an earlier one: a process
        starts once, and a second command run in the same process (tests) must not stay muted by
        the first's grace period."""
        for name in {name for name, _ in self.noise}:
            logger = logging.getLogger(name)
            for old in [f for f in logger.filters if isinstance(f, StartupNoise)]:
                logger.removeFilter(old)
            logger.addFilter(self)
        return self

    def uninstall(self) -> None:
        for name in {name for name, _ in self.noise}:
            logging.getLogger(name).removeFilter(self)
