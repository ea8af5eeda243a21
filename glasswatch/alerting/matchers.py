"""Label matchers with Alertmanager semantics: ``=``, ``!=``, ``=~``, ``!~``.

Regular expressions are anchored (the whole value must match) and a missing label reads as
the empty string, exactly as in Alertmanager's ``pkg/labels``.

Examples
--------
>>> m = Matcher.parse('severity="critical"')
>>> m.matches({"severity": "critical"}), m.matches({"severity": "warning"})
(True, False)
>>> str(Matcher.parse("kind=~schema_break|upstream_outage"))
'kind=~"schema_break|upstream_outage"'
>>> matches_all(parse_matchers(['model="churn"', 'signal!~"feature:.*"']), {"model": "churn"})
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, model_validator

from glasswatch.errors import ConfigError

__all__ = ["MatchType", "Matcher", "matches_all", "parse_matchers"]

_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class Matcher(BaseModel):
    """One label matcher: ``name``, ``type`` and ``value`` (a regex for ``=~``/``!~``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: MatchType
    value: str

    @model_validator(mode="after")
    def _check_regex(self) -> Matcher:
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from exc
        return self

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(self.value)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse ``name<op>value``; the value may be double-quoted (``severity="critical"``)."""
        if not isinstance(text, str):
            raise ConfigError(f'bad matcher {text!r}: expected a string like severity="critical"')
        found = _MATCHER_RE.match(text)
        if found is None:
            raise ConfigError(f"bad matcher {text!r}: expected name, one of = != =~ !~, and a value")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        try:
            return cls(name=name, type=MatchType(op), value=value)
        except ValueError as exc:
            raise ConfigError(f"bad matcher {text!r}: {exc}") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is ``""``)."""
        got = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return got == self.value
        if self.type is MatchType.NOT_EQUAL:
            return got != self.value
        hit = self._regex.fullmatch(got) is not None
        return hit if self.type is MatchType.REGEX else not hit

    def __str__(self) -> str:
        escaped = self.value.replace('"', '\\"')
        return f'{self.name}{self.type.value}"{escaped}"'


def parse_matchers(items: Iterable[str | Matcher | Mapping[str, str]]) -> tuple[Matcher, ...]:
    """Parse several matchers: strings, built ones, or their JSON form (``{"name", "type", "value"}``)."""
    return tuple(
        m
        if isinstance(m, Matcher)
        else Matcher.model_validate(m)
        if isinstance(m, Mapping)
        else Matcher.parse(m)
        for m in items
    )


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
