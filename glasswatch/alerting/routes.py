"""The route tree and receivers, loaded from YAML, with Alertmanager semantics.

A route matches an alert's labels with its ``matchers``; children are tried in order and the
first matching child wins unless it says ``continue: true``; when no child matches, the route
itself does. Children inherit ``receiver``, ``group_by``, ``group_wait``, ``group_interval`` and
``repeat_interval`` from their parent (Alertmanager ``dispatch/route.go``). Durations are
``30s``, ``5m``, ``4h``, ``1h30m`` or seconds.

Receivers and their secrets live in :mod:`glasswatch.alerting.notify.receivers`.

Examples
--------
>>> cfg = load_routing('''
... receivers:
...   - {name: oncall, kind: pagerduty, routing_key: {env: PD_KEY}}
...   - {name: team, kind: slack, channel: "#ml", token: {env: SLACK_TOKEN}}
...   - {name: log, kind: log}
... route:
...   receiver: log
...   group_by: [model]
...   routes:
...     - {matchers: ['severity="critical"'], receiver: oncall, continue: true}
...     - {matchers: ['severity=~"warning|critical"'], receiver: team, group_wait: 10s}
... ''')
>>> [r.receiver for r in cfg.route.match({"severity": "critical"})]
['oncall', 'team']
>>> [r.receiver for r in cfg.route.match({"severity": "info"})]
['log']
>>> cfg.route.routes[1].group_wait.total_seconds(), cfg.route.routes[1].group_by
(10.0, ('model',))
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from glasswatch.alerting.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule
from glasswatch.alerting.matchers import Matcher, matches_all, parse_matchers
from glasswatch.alerting.notify.receivers import (
    AnyReceiver,
    DesktopReceiver,
    LogReceiver,
    PagerDutyReceiver,
    Receiver,
    SecretRef,
    SlackReceiver,
)
from glasswatch.errors import ConfigError

__all__ = [
    "DEFAULT_GROUP_BY",
    "Route",
    "RoutingConfig",
    "default_routing",
    "load_routing",
    "load_routing_file",
    "parse_duration",
]

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


class _RouteSpec(BaseModel):
    """A route as written in YAML: every option optional (inherited from the parent)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[_RouteSpec, ...] = ()

    @field_validator("matchers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> tuple[Matcher, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError("matchers must be a list like ['severity=\"critical\"']")
        return parse_matchers(value)


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
            lines.append(
                f"{'  ' * depth}{where} → {r.receiver} (group_by={','.join(r.group_by)} "
                f"wait={_fmt(r.group_wait)} interval={_fmt(r.group_interval)} "
                f"repeat={_fmt(r.repeat_interval)}){cont}"
            )
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


def _resolve(spec: _RouteSpec, parent: Route | None, path: str) -> Route:
    base = parent or Route(id="/", receiver=spec.receiver or "")
    me = Route(
        id=path,
        receiver=spec.receiver or base.receiver,
        matchers=spec.matchers,
        group_by=spec.group_by if spec.group_by is not None else base.group_by,
        group_wait=spec.group_wait if spec.group_wait is not None else base.group_wait,
        group_interval=spec.group_interval if spec.group_interval is not None else base.group_interval,
        repeat_interval=spec.repeat_interval if spec.repeat_interval is not None else base.repeat_interval,
        continue_=spec.continue_,
    )
    children = tuple(_resolve(c, me, f"{path.rstrip('/')}/{i}") for i, c in enumerate(spec.routes))
    return me.model_copy(update={"routes": children})


class _ConfigSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    receivers: tuple[Receiver, ...]
    route: _RouteSpec
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES


class RoutingConfig(BaseModel):
    """Receivers, the resolved route tree and the inhibit rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    receivers: tuple[Receiver, ...]
    route: Route
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES

    def receiver(self, name: str) -> AnyReceiver:
        for r in self.receivers:
            if r.name == name:
                return r
        raise KeyError(name)


def _node_at(node: yaml.Node, loc: tuple[int | str, ...]) -> tuple[yaml.Node, list[str]]:
    """The deepest YAML node along a pydantic error location, and the field path reached."""
    path: list[str] = []
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            key = "continue" if part == "continue_" else part
            nxt = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            continue  # e.g. a discriminator tag in the location: not a YAML key
        node = nxt
        path.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return node, path


def load_routing(text: str, *, source: str = "<string>") -> RoutingConfig:
    """Parse and validate a routing YAML; errors name ``source``, line and field."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None or not isinstance(data, dict):
        raise ConfigError(f"{source}:1: routing config must be a mapping with receivers and route")
    try:
        spec = _ConfigSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        node, path = _node_at(root, tuple(first["loc"]))
        field = "".join(path).lstrip(".") or "(top level)"
        raise ConfigError(
            f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: {field}: {first['msg']}"
        ) from None
    except ConfigError as exc:  # a matcher string that does not parse
        raise ConfigError(f"{source}: {exc}") from None
    route = _resolve(spec.route, None, "/")
    names = {r.name for r in spec.receivers}
    if len(names) != len(spec.receivers):
        raise ConfigError(f"{source}: receivers: names must be unique")
    for _, r in route.walk():
        if r.receiver not in names:
            line = root.start_mark.line + 1
            raise ConfigError(f"{source}:{line}: route {r.id}: receiver {r.receiver!r} is not defined")
    return RoutingConfig(receivers=spec.receivers, route=route, inhibit_rules=spec.inhibit_rules)


def load_routing_file(path: str | Path) -> RoutingConfig:
    """Read ``path`` and :func:`load_routing` it (errors name the file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read routing config: {exc.strerror}") from None
    return load_routing(text, source=str(p))


def default_routing(
    env: str,
    *,
    slack_channel: str = "#ml-alerts",
    slack_token: SecretRef | None = None,
    pagerduty_key: SecretRef | None = None,
    desktop: bool | None = None,
) -> RoutingConfig:
    """No config given: critical → PagerDuty, warning → Slack, everything → log, desktop when local
    (or as ``desktop`` says).

    >>> cfg = default_routing("local")
    >>> [r.receiver for r in cfg.route.match({"severity": "critical"})]
    ['pagerduty', 'desktop', 'log']
    >>> [r.receiver for r in default_routing("prod").route.match({"severity": "warning"})]
    ['slack', 'log']
    """
    receivers: list[Any] = [
        PagerDutyReceiver(
            name="pagerduty",
            routing_key=pagerduty_key or SecretRef(env="GLASSWATCH_NOTIFY__PAGERDUTY_ROUTING_KEY"),
        ),
        SlackReceiver(
            name="slack",
            channel=slack_channel,
            token=slack_token or SecretRef(env="GLASSWATCH_NOTIFY__SLACK_TOKEN"),
        ),
        LogReceiver(name="log"),
    ]
    children: list[dict[str, Any]] = [
        {"matchers": ['severity="critical"'], "receiver": "pagerduty", "continue": True},
        {"matchers": ['severity="warning"'], "receiver": "slack", "continue": True},
    ]
    if desktop if desktop is not None else env == "local":
        receivers.append(DesktopReceiver(name="desktop"))
        children.append({"receiver": "desktop", "continue": True})
    children.append({"receiver": "log"})
    spec = _RouteSpec.model_validate({"receiver": "log", "routes": children})
    return RoutingConfig(receivers=tuple(receivers), route=_resolve(spec, None, "/"))
