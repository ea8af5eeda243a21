"""Expected start-up errors of aiokafka are logged at DEBUG until the worker is ready (issue 13)."""

from __future__ import annotations

import importlib.util
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from glasswatch.kafka.log_limits import STARTUP_NOISE, StartupNoise

COORDINATOR = "aiokafka.consumer.group_coordinator"


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A handler at INFO on the loggers of STARTUP_NOISE (not propagated: pytest's handlers stay out)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    names = {name for name, _ in STARTUP_NOISE} | {"aiokafka.conn"}
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level)
             for n in names}
    for n in names:
        log = logging.getLogger(n)
        log.handlers, log.propagate = [handler], False
        log.setLevel(logging.INFO)
    yield out
    for n, (handlers, propagate, level) in saved.items():
        log = logging.getLogger(n)
        log.handlers, log.propagate = handlers, propagate
        log.setLevel(level)


def test_coordinator_errors_at_start_are_quiet_until_ready(stream: io.StringIO) -> None:
    clock = _Clock()
    noise = StartupNoise(grace_s=60, clock=clock).install()
    try:
        log = logging.getLogger(COORDINATOR)
        for _ in range(5):
            log.error("Group Coordinator Request failed: %s", "[Error 15] CoordinatorNotAvailableError")
        logging.getLogger("aiokafka.conn").error("Unable connect to node with id %s", 1)  # not start-up noise
        log.error("Something else failed: %s", "x")  # another message of the same logger
        assert stream.getvalue().splitlines() == [
            "ERROR aiokafka.conn Unable connect to node with id 1",
            f"ERROR {COORDINATOR} Something else failed: x",
        ]
        noise.ready()
        log.error("Group Coordinator Request failed: %s", "after ready")
        last = stream.getvalue().splitlines()[-1]
        assert last == f"ERROR {COORDINATOR} Group Coordinator Request failed: after ready"
    finally:
        noise.uninstall()


def test_the_grace_period_ends_even_if_the_worker_never_gets_ready(stream: io.StringIO) -> None:
    clock = _Clock()
    noise = StartupNoise(grace_s=60, clock=clock).install()
    try:
        log = logging.getLogger("aiokafka.cluster")
        log.error("Topic %s not found in cluster metadata", "t1")
        clock.t = 61.0
        log.error("Topic %s not found in cluster metadata", "t2")
        assert stream.getvalue().splitlines() == [
            "ERROR aiokafka.cluster Topic t2 not found in cluster metadata"
        ]
    finally:
        noise.uninstall()


def test_demoted_records_are_shown_at_debug(stream: io.StringIO) -> None:
    noise = StartupNoise(grace_s=60, clock=_Clock()).install()
    log = logging.getLogger(COORDINATOR)
    log.setLevel(logging.DEBUG)
    try:
        log.error("Group Coordinator Request failed: %s", "x")
        assert stream.getvalue().splitlines() == [f"DEBUG {COORDINATOR} Group Coordinator Request failed: x"]
    finally:
        noise.uninstall()
    log.error("Group Coordinator Request failed: %s", "y")  # uninstalled: its own level again
    assert stream.getvalue().splitlines()[-1].startswith("ERROR")


@pytest.mark.parametrize(("logger", "template"), STARTUP_NOISE)
def test_each_template_is_what_aiokafka_logs(logger: str, template: str) -> None:
    """An aiokafka upgrade that rewords a message would silently bring the noise back."""
    spec = importlib.util.find_spec(logger)
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert repr(template)[1:-1] in source or f'"{template}"' in source


def test_a_second_install_replaces_the_first(stream: io.StringIO) -> None:
    """Two commands in one process (as in the test suite): the first's grace period must not keep
    muting the second's records after the second is ready."""
    first = StartupNoise(grace_s=600).install()  # never made ready, e.g. a command that returned
    second = StartupNoise(grace_s=600).install()
    try:
        log = logging.getLogger(COORDINATOR)
        assert first not in log.filters and log.filters.count(second) == 1
        second.ready()
        log.error("Group Coordinator Request failed: %s", "after ready")
        shown = stream.getvalue().splitlines()
        assert shown == [f"ERROR {COORDINATOR} Group Coordinator Request failed: after ready"]
    finally:
        second.uninstall()
        first.uninstall()
