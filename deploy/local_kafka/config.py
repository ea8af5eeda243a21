"""What a single-node KRaft broker is told: ``server.properties``, ``log4j2.properties``, a cluster id.

Pure functions; :class:`~local_kafka.process.LocalKafka` writes their results into its workdir.
The quorum is *static* (``controller.quorum.voters=1@127.0.0.1:CPORT``), so storage is formatted
without ``--standalone``: with a dynamic quorum the controller endpoint would be written into the
metadata log at format time, and a controller port chosen afresh at the next start would no
longer match.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from pathlib import Path

__all__ = ["HEADER", "log4j2_properties", "new_cluster_id", "read_cluster_id", "render", "server_config"]

HEADER = "# written by deploy/local_kafka (local_kafka.config)"


def server_config(
    port: int, controller_port: int, data_dir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The ``server.properties`` entries of a broker+controller on 127.0.0.1; ``extra`` overrides.

    >>> conf = server_config(9092, 9093, Path("/tmp/k"), {"num.partitions": "1"})
    >>> conf["listeners"], conf["num.partitions"]
    ('PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093', '1')
    """
    conf = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "4",
        "auto.create.topics.enable": "true",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "log.retention.hours": "24",
    }
    conf.update(extra or {})
    return conf


def render(conf: Mapping[str, str]) -> str:
    """A properties file: the header, then ``key=value`` lines in order."""
    return HEADER + "\n" + "".join(f"{key}={value}\n" for key, value in conf.items())


def log4j2_properties(log_file: Path) -> str:
    """Log4j 2 configuration: INFO and up into ``log_file`` (state changes only from WARN)."""
    return (
        "status = warn\n"
        "appender.file.type = File\n"
        "appender.file.name = file\n"
        f"appender.file.fileName = {log_file}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = file\n"
        "logger.state.name = state.change.logger\n"
        "logger.state.level = WARN\n"
    )


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (as ``kafka-storage random-uuid``).

    Like Kafka's ``Uuid.randomUuid()`` it never starts with ``-``, which command lines would take
    for an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def read_cluster_id(meta_properties: str) -> str | None:
    """The ``cluster.id`` of a formatted storage directory's ``meta.properties`` text.

    >>> read_cluster_id("version=1\\ncluster.id=WHC5Ja9jQTGkJ8krIGSwbQ\\nnode.id=1\\n")
    'WHC5Ja9jQTGkJ8krIGSwbQ'
    """
    found = None
    for line in meta_properties.splitlines():
        if line.startswith("cluster.id="):
            found = line.split("=", 1)[1].strip()
    return found
