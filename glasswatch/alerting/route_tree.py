"""The route tree, with Alertmanager semantics (``dispatch/route.go``).

A route matches an alert's labels with its ``matchers``; children are tried in order and the
first matching child wins unless it says ``continue: true``; when no child matches, the route
itself does. Children inherit ``receiver``, ``group_by``, ``group_wait``, ``group_interval`` and
``repeat_interval`` from their parent. Durations are ``30s``, ``5m``, ``4h``, ``1h30m`` or seconds.

:class:`RouteSpec` is a route as written (every option optional); :meth:`RouteSpec.resolve`
turns it into the tree of :class:`Route` nodes the dispatcher walks. Loading the YAML, the
receivers and the inhibit rules is :mod:`glasswatch.alerting.routes`.

Examples
--------
>>> spec = RouteSpec.model_validate({
...     "receiver": "log", "group_by": ["model"],
...     "routes": [{"matchers": ['severity="critical"'], "receiver": "oncall", "continue": True},
...                {"matchers": ['severity=~"warning|critical"'], "receiver": "team",
...                 "group_wait": "10s"}]})
>>> root = spec.resolve()
>>> [r.receiver for r in root.match({"severity": "critical"})]
['oncall', 'team']
>>> [(r.id, r.receiver) for r in root.match({"severity": "info"})]
[('/', 'log')]
>>> root.routes[1].id, root.routes[1].group_wait.total_seconds(), root.routes[1].group_by
('/1', 10.0, ('model',))
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from glasswatch.alerting.matchers import Matcher, matches_all, parse_matchers
from glasswatch.schemas.text import printable

__all__ = ["DEFAULT_GROUP_BY", "Duration", "Route", "RouteSpec", "parse_duration"]

DEFAULT_GROUP_BY: tuple[str, ...] = ("model", "kind")
_DURATION_RE = re.compile(
    r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$"
)


def parse_duration(value: object) -> timedelta:
    """``'30s'``, ``'5m'``, ``'1h30m'``, ``'250ms'`` or a number of seconds → ``timedelta``.

    >>> parse_duration("1h30m"), parse_duration(2.5)
    (datetime.timedelta(seconds=5400), datetime.timedelta(seconds=2, microseconds=500000))
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    text = str(value).strip()
    found = _DURATION_RE.match(text)
    if not text or found is None:
        raise ValueError(f"bad duration {value!r}: use e.g. 30s, 5m, 4h, 1h30m")
    h, m, s, ms = (float(g) if g else 0.0 for g in found.groups())
    return timedelta(hours=h, minutes=m, seconds=s, milliseconds=ms)


Duration = Annotated[timedelta, pydantic.BeforeValidator(parse_duration)]


class RouteSpec(BaseModel):
    """A route as written in YAML: every option optional (inherited from the parent)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[RouteSpec, ...] = ()

    @field_validator("matchers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> tuple[Matcher, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError("matchers must be a list like ['severity=\"critical\"']")
        return parse_matchers(value)

    def resolve(self, parent: Route | None = None, path: str = "/") -> Route:
        """The resolved node at ``path`` under ``parent`` (options inherited), with its children."""
        base = parent or Route(id="/", receiver=self.receiver or "")
        me = Route(
            id=path,
            receiver=self.receiver or base.receiver,
            matchers=self.matchers,
            group_by=self.group_by if self.group_by is not None else base.group_by,
            group_wait=self.group_wait if self.group_wait is not None else base.group_wait,
            group_interval=self.group_interval if self.group_interval is not None else base.group_interval,
            repeat_interval=self.repeat_interval
            if self.repeat_interval is not None
            else base.repeat_interval,
            continue_=self.continue_,
        )
        children = tuple(c.resolve(me, f"{path.rstrip('/')}/{i}") for i, c in enumerate(self.routes))
        return me.model_copy(update={"routes": children})


class Route(BaseModel):
    """A resolved route node: options inherited, ``id`` is the path from the root (``/0/1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    continue_: bool = False
    routes: tuple[Route, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` goes to (depth first, honouring ``continue``)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found.extend(hits)
            if hits and not child.continue_:
                break
        return found or [self]

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Route]]:
        yield depth, self
        for child in self.routes:
            yield from child.walk(depth + 1)

    def render(self) -> str:
        """The tree, one route a line (for ``glasswatch routes check``)."""
        lines = []
        for depth, r in self.walk():
            where = " ".join(str(m) for m in r.matchers) or "*"
            cont = " continue" if r.continue_ else ""
            line = (
                f"{'  ' * depth}{where} → {r.receiver} (group_by={','.join(r.group_by)} "
                f"wait={_fmt(r.group_wait)} interval={_fmt(r.group_interval)} "
                f"repeat={_fmt(r.repeat_interval)}){cont}"
            )
            lines.append(printable(line))  # matcher values may hold control characters
        return "\n".join(lines)


def _fmt(d: timedelta) -> str:
    s = d.total_seconds()
    return (
        f"{s / 3600:g}h"
        if s >= 3600 and s % 3600 == 0
        else f"{s / 60:g}m"
        if s >= 60 and s % 60 == 0
        else f"{s:g}s"
    )
