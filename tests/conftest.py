"""Session-wide fixtures shared by every test directory.

``kafka_bootstrap``: ``host:port`` of a real Kafka broker. Uses ``$GLASSWATCH_KAFKA_BOOTSTRAP`` when
set (CI service, ``just kafka-up``); otherwise starts a private single-node KRaft broker
(``deploy/local_kafka/``) on a free port in a temp dir, the first time a test asks for it, and
stops it when the session ends. Needs Java 17+ (and Maven the very first time, to fetch the jars
into ``.cache/kafka/``); without them the requesting tests error with the install instructions.

``new_topic``: ``new_topic(partitions=3, prefix="preds") -> name`` creates a uniquely named topic
on that broker (every partition has a leader when it returns). For sync tests; async tests await
``kafka_helpers.create_topic`` instead.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # `import kafka_helpers` from any test directory, whatever the import mode
    sys.path.insert(0, _TESTS)

from kafka_helpers import create_topic_sync, load_local_kafka, unique_topic  # noqa: E402  (sys.path above)

BOOTSTRAP_ENV = "GLASSWATCH_KAFKA_BOOTSTRAP"


def _check_external(bootstrap: str, timeout: float = 15.0) -> None:
    """Fail early and clearly when the broker named in the environment does not answer."""
    local_kafka = load_local_kafka()
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            local_kafka.probe(host or "127.0.0.1", int(port))
            return
        except (OSError, ValueError) as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"{BOOTSTRAP_ENV}={bootstrap} does not answer the Kafka protocol: {exc}")
            time.sleep(0.5)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real broker: the environment's, or a private one started lazily."""
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        _check_external(external)
        yield external
        return
    local_kafka = load_local_kafka()
    workdir = tmp_path_factory.mktemp("kafka")
    kafka = None
    for attempt in range(2):  # the free port may be taken between choosing it and the JVM binding it
        candidate = local_kafka.LocalKafka(port=0, workdir=workdir / f"run{attempt}", stop_with_parent=True)
        try:
            candidate.start()
        except local_kafka.KafkaStartError:
            if attempt == 1:
                raise
            continue
        kafka = candidate
        break
    assert kafka is not None
    try:
        yield kafka.bootstrap
    finally:
        kafka.stop()


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Callable[..., str]:
    """A factory of fresh topics on the session broker: ``new_topic(partitions=3, prefix="x")``."""

    def make(partitions: int = 1, prefix: str = "test", **kwargs: object) -> str:
        name = unique_topic(prefix)
        create_topic_sync(kafka_bootstrap, name, partitions, **kwargs)
        return name

    return make
