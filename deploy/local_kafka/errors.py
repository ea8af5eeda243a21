"""The one exception tree of the local Kafka launcher.

::

    LocalKafkaError                      base of every error raised here on purpose
    ├── EnvironmentNotReady(RuntimeError) java or mvn missing or too old, or Maven could not fetch
    ├── KafkaStartError(RuntimeError)     the broker did not format, bind or become ready (log tails)
    └── ProbeError(OSError)               a broker does not answer the Kafka protocol (yet)

The built-in mixins keep older callers working (``except OSError`` around :func:`probe`,
``except RuntimeError`` around :meth:`LocalKafka.start`). Standard library only: glasswatch's own
tree (``glasswatch.errors``) cannot be imported here, so the demo translates at its boundary.
"""

from __future__ import annotations

__all__ = [
    "INSTALL_HINT",
    "EnvironmentNotReady",
    "KafkaStartError",
    "LocalKafkaError",
    "ProbeError",
]

INSTALL_HINT = (
    "Install a JDK 17+ and Maven 3.6+ (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless maven`; "
    "macOS: `brew install openjdk@17 maven`; or SDKMAN: `sdk install java 17-tem && sdk install maven`), "
    "or point the tests at an existing broker with GLASSWATCH_KAFKA_BOOTSTRAP=host:port."
)


class LocalKafkaError(Exception):
    """Base of every error the local Kafka launcher raises on purpose."""


class EnvironmentNotReady(LocalKafkaError, RuntimeError):
    """A tool the local broker needs (java, mvn) is missing or too old, or the jars cannot be fetched."""


class KafkaStartError(LocalKafkaError, RuntimeError):
    """The broker did not become ready; the message ends with the tail of its log."""


class ProbeError(LocalKafkaError, OSError):
    """A broker did not answer the readiness probe (refused, closed, timed out or garbled)."""
