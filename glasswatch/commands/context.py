"""What every command group receives from ``glasswatch/cli.py``: settings and the environment.

``cli.py`` is the only module that reads the process environment. It hands each group's
``register(app, context)`` one :class:`CommandContext`. Calling the context gives the
:class:`~glasswatch.settings.Settings` (so a group that needs nothing else may take it as a
plain ``Callable[[], Settings]``); :attr:`CommandContext.environ` gives a read-only snapshot of
the environment for what settings cannot name in advance: receiver secrets a routing file
references by variable name (``routing_key: {env: PD_KEY}``), the desktop session
(``DISPLAY``), the environment of a child process. Both are read when a command runs, not when
it is registered, so ``--help`` works whatever the environment holds.

>>> from types import MappingProxyType
>>> from glasswatch.settings import Settings
>>> ctx = CommandContext(lambda: Settings(env="prod"), lambda: MappingProxyType({"PD_KEY": "k"}))
>>> ctx().env, ctx.environ()["PD_KEY"]
('prod', 'k')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: ``glasswatch --help`` imports this module
    from glasswatch.settings import Settings

__all__ = ["CommandContext"]


@dataclass(frozen=True)
class CommandContext:
    """Settings and an environment snapshot, each read once per command by ``cli.py``."""

    settings: Callable[[], Settings]
    environ: Callable[[], Mapping[str, str]]

    def __call__(self) -> Settings:
        return self.settings()
