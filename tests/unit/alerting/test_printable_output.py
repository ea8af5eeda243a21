"""The log receiver and the route tree print producer text on one line, control characters
escaped; a routing file that is not UTF-8 is a ConfigError naming the byte."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from glasswatch.alerting.notify.base import Notification
from glasswatch.alerting.notify.log import LogNotifier, format_line
from glasswatch.alerting.routes import load_routing, load_routing_file
from glasswatch.errors import ConfigError
from glasswatch.monitor.specs import load_specs
from glasswatch.schemas.alert import Alert, AlertKind, Severity

HOSTILE = 'x\x1b[2J\nalert firing critical model=forged" fp=0\u202e'


def _alert() -> Alert:
    return Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model=HOSTILE, signal=HOSTILE,
                       summary=HOSTILE, starts_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_log_line_cannot_be_forged_or_hidden() -> None:
    a = _alert()
    line = format_line(a)
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert f" fp={a.fingerprint} summary=" in line
    assert line.endswith('summary="x\\x1b[2J\\x0aalert firing critical model=forged\\" fp=0\\u202e"')


def test_the_log_notifier_writes_the_escaped_line(caplog: pytest.LogCaptureFixture) -> None:
    a = _alert()
    logger = logging.getLogger("glasswatch.test.log_notifier")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        LogNotifier(logger=logger).send(Notification(receiver="log", group_key="g", alerts=(a,)))
    (record,) = caplog.records
    assert record.getMessage() == format_line(a)


def test_route_tree_escapes_matcher_values() -> None:
    config = load_routing(
        "receivers: [{name: log, kind: log}]\n"
        'route: {receiver: log, routes: [{matchers: ["team=\\"a\\rb\\x9b\\""], receiver: log}]}\n'
    )
    lines = config.route.render().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith('  team="a\\x0db\\x9b" → log')


@pytest.mark.parametrize("loader", [load_routing_file, load_specs])
def test_a_file_that_is_not_utf8_is_a_config_error(loader: object, tmp_path: Path) -> None:
    f = tmp_path / "config.yaml"
    f.write_bytes(b"receivers: []\n# \xc3\x28 bad continuation\n")
    with pytest.raises(ConfigError) as info:
        loader(f)  # type: ignore[operator]
    assert str(info.value) == f"{f}: not UTF-8 text (byte 0xc3 at offset 16)"
