from __future__ import annotations

import pytest

from glasswatch.alerting.matchers import Matcher, MatchType, matches_all, parse_matchers
from glasswatch.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ("severity=critical", {"severity": "warning"}, False),
        ('severity!="critical"', {"severity": "warning"}, True),
        ('severity!="critical"', {}, True),
        ('kind=~"schema_break|upstream_outage"', {"kind": "schema_break"}, True),
        ('kind=~"schema"', {"kind": "schema_break"}, False),  # anchored, like Alertmanager
        ('signal!~"feature:.*"', {"signal": "feature:age"}, False),
        ('signal!~"feature:.*"', {"signal": "events"}, True),
        ('team=""', {}, True),  # a missing label reads as the empty string
        ('team=~".+"', {}, False),
    ],
)
def test_matcher_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


def test_parse_keeps_operator_and_unquotes() -> None:
    m = Matcher.parse('  model =~ "churn.*" ')
    assert (m.name, m.type, m.value) == ("model", MatchType.REGEX, "churn.*")
    assert str(m) == 'model=~"churn.*"'
    assert Matcher.parse(str(m)) == m


@pytest.mark.parametrize("bad", ["", "severity", "=x", "1abc=x", 'kind=~"("'])
def test_bad_matchers_raise_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="bad matcher"):
        Matcher.parse(bad)


def test_matches_all_and_empty_list() -> None:
    ms = parse_matchers(['model="churn"', 'severity=~"warning|critical"'])
    assert matches_all(ms, {"model": "churn", "severity": "critical"})
    assert not matches_all(ms, {"model": "churn", "severity": "info"})
    assert matches_all((), {"anything": "x"})
