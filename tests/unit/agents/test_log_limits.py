"""One line per cause per interval during a broker outage (issue 9, item 10)."""

from __future__ import annotations

import io
import logging

import pytest

from glasswatch.kafka.log_limits import RepeatFilter, install_repeat_filter


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def captured() -> tuple[logging.Logger, io.StringIO, _Clock]:
    root = logging.getLogger("gwtest-root")
    root.propagate = False
    root.setLevel(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root.handlers = [handler, logging.StreamHandler(io.StringIO())]  # two handlers share one filter
    clock = _Clock()
    flt = RepeatFilter(30.0, prefixes=("gwtest-root",), clock=clock)
    for h in root.handlers:
        h.addFilter(flt)
    return root, stream, clock


def test_a_thirty_second_outage_is_a_handful_of_lines(
    captured: tuple[logging.Logger, io.StringIO, _Clock],
) -> None:
    root, stream, clock = captured
    conn = root.getChild("aiokafka.conn")
    pub = root.getChild("glasswatch.agents.outbox")
    for step in range(3000):  # 100 records/s for 30 s from two causes
        clock.t = step * 0.01
        conn.error("Unable connect to node with id %s: %s", step % 3, "Connect call failed")
        if step % 10 == 0:
            pub.warning("publish failed (%s: %s); retrying in %.1fs", "KafkaConnectionError", "down", 0.5)
    clock.t = 31.0
    conn.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[-1].endswith("(repeated 2999 times in 31s)")
    assert "publish failed" in lines[1]


def test_other_loggers_levels_and_exception_classes_are_apart(
    captured: tuple[logging.Logger, io.StringIO, _Clock],
) -> None:
    root, stream, _ = captured
    log = root.getChild("x")
    for _ in range(5):
        log.info("progress %s", 1)  # below WARNING: never limited
    for exc in (ValueError, KeyError, ValueError):
        try:
            raise exc("boom")
        except Exception:
            log.exception("failed on %s", 7)
    text = stream.getvalue()
    assert text.count("progress") == 5
    assert text.count("failed on") == 2  # ValueError once, KeyError once


def test_install_adds_one_filter_to_every_root_handler() -> None:
    logger = logging.getLogger("gwtest-install")
    logger.handlers = [logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())]
    flt = install_repeat_filter(logger, 5.0)
    assert all(flt in h.filters for h in logger.handlers) and flt.interval_s == 5.0
    logger.handlers = []
