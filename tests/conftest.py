"""Session-wide fixtures shared by every test directory.

``kafka_bootstrap``: ``host:port`` of a real Kafka broker. Uses ``$GLASSWATCH_KAFKA_BOOTSTRAP`` when
set (CI service, ``just kafka-up``); otherwise starts a private single-node KRaft broker
(``deploy/local_kafka.py``) on a free port in a temp dir, the first time a test asks for it, and
stops it when the session ends. Needs Java 17+ (and Maven the very first time, to fetch the jars
into ``.cache/kafka/``); without them the requesting tests error with the install instructions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # `import kafka_helpers` from any test directory, whatever the import mode
    sys.path.insert(0, _TESTS)

from kafka_helpers import load_local_kafka  # noqa: E402  (needs the sys.path line above)

BOOTSTRAP_ENV = "GLASSWATCH_KAFKA_BOOTSTRAP"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real broker: the environment's, or a private one started lazily."""
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
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
