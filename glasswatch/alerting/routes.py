"""The routing config: receivers, the route tree and the inhibit rules, loaded from YAML.

:func:`load_routing` parses and validates the YAML (errors name the source, line and field) and
resolves the route tree (:mod:`glasswatch.alerting.route_tree`: matching, inheritance, durations);
:func:`default_routing` is the config used when none is given. Receivers and their secrets live in
:mod:`glasswatch.alerting.notify.receivers`.

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

from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict

from glasswatch.alerting.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule
from glasswatch.alerting.notify.receivers import (
    AnyReceiver,
    DesktopReceiver,
    LogReceiver,
    PagerDutyReceiver,
    Receiver,
    SecretRef,
    SlackReceiver,
)
from glasswatch.alerting.route_tree import Route, RouteSpec
from glasswatch.errors import ConfigError
from glasswatch.schemas.text import decode_utf8

__all__ = ["RoutingConfig", "default_routing", "load_routing", "load_routing_file"]


class _ConfigSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    receivers: tuple[Receiver, ...]
    route: RouteSpec
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
    route = spec.route.resolve()
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
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read routing config: {exc.strerror}") from None
    return load_routing(decode_utf8(data, str(p)), source=str(p))


def default_routing(
    env: str,
    *,
    slack_channel: str = "#ml-alerts",
    slack_token: SecretRef | None = None,
    pagerduty_key: SecretRef | None = None,
    desktop: bool | None = None,
) -> RoutingConfig:
    """No config given: critical → PagerDuty, warning → Slack, everything → log, desktop when local
    (or as ``desktop`` says); the inhibit rules are
    :data:`~glasswatch.alerting.inhibit.DEFAULT_INHIBIT_RULES`.

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
    spec = RouteSpec.model_validate({"receiver": "log", "routes": children})
    return RoutingConfig(receivers=tuple(receivers), route=spec.resolve())
