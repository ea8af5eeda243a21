"""A real single-node Kafka broker (KRaft) for development and tests, with nothing but Java and Maven.

Maven fetches the broker's runtime jars once (``deploy/kafka/pom.xml`` →
``<repo>/.cache/kafka/<version>/libs``); then ``java -cp 'libs/*' kafka.Kafka server.properties``
runs a combined broker+controller listening on 127.0.0.1 only. Standard library only, so it runs
before (and without) the project's virtualenv.

From a shell (the justfile's ``kafka-up``, ``kafka-status``, ``kafka-down``)::

    python deploy/local_kafka up     [--port 9092] [--dir .cache/kafka-run]   # prints the bootstrap
    python deploy/local_kafka status [--dir ...]                              # exit 0 when ready
    python deploy/local_kafka down   [--dir ...]
    python deploy/local_kafka fetch                                           # warm the jar cache
    PYTHONPATH=deploy python -m local_kafka status                            # the same

From Python (glasswatch's demo and tests load it with ``glasswatch.commands.demo.load_local_kafka``)::

    with LocalKafka(port=0, workdir=tmp_path) as kafka:   # port 0: pick a free port
        use(kafka.bootstrap)                              # "127.0.0.1:PORT"

Modules, in dependency order::

    errors   the one exception tree (LocalKafkaError → EnvironmentNotReady, KafkaStartError, ProbeError)
    console  progress lines on stderr
    probe    the readiness probe: Kafka protocol ApiVersions + Metadata
    jvm      java 17+ detection, the JVM command line, the class-data-sharing archive
    fetch    the broker jars: Maven into the shared cache, once per version
    config   server.properties, log4j2.properties, cluster ids (pure)
    host     free ports, live pids, command lines, the orphan watchdog
    pidfile  <workdir>/kafka.pid: the record that up, status and down share across processes
    logs     first errors and tails of a broker's logs
    process  LocalKafka: write config, format, start, wait until ready, stop; the pid file
    cli      up | status | down | fetch
"""

from __future__ import annotations

from .cli import main
from .errors import EnvironmentNotReady, KafkaStartError, LocalKafkaError, ProbeError
from .fetch import DEFAULT_VERSION, MARKER
from .host import free_port
from .probe import probe
from .process import DEFAULT_WORKDIR, LocalKafka

__all__ = [
    "DEFAULT_VERSION",
    "DEFAULT_WORKDIR",
    "MARKER",
    "EnvironmentNotReady",
    "KafkaStartError",
    "LocalKafka",
    "LocalKafkaError",
    "ProbeError",
    "free_port",
    "main",
    "probe",
]
