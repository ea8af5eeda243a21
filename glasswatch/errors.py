"""The one exception tree of glasswatch.

::

    GlasswatchError
    ├── ConfigError(ValueError)          bad settings, specs, routes (names file/line/field)
    ├── ValidationError(ValueError)      an event that breaks its contract (has ``reason``)
    ├── StateRefused(ValueError)         a stored partition state not read (has ``reason``)
    ├── ExternalError                    a dependency outside the process failed
    │   ├── NotifyError                  a receiver failed (``retryable`` says what to do)
    │   ├── BrokerError                  Kafka is unreachable or misconfigured
    │   └── TrackingError                MLflow is unreachable or answered an error
    ├── EnvironmentNotReady(RuntimeError) a required tool (java, mvn) is missing
    └── GateFailed                       a quality gate refused a model

Exceptions never carry secrets: callers pass redacted text only.
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "ConfigError",
    "EnvironmentNotReady",
    "ExternalError",
    "GateFailed",
    "GlasswatchError",
    "NotifyError",
    "StateRefused",
    "TrackingError",
    "ValidationError",
]


class GlasswatchError(Exception):
    """Base of every error glasswatch raises on purpose."""


class ConfigError(GlasswatchError, ValueError):
    """Configuration (settings, YAML specs, routes) is invalid."""


class ValidationError(GlasswatchError, ValueError):
    """An event failed validation; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class StateRefused(GlasswatchError, ValueError):
    """A stored state was not read: unsigned, signed with another key, altered, of an unknown
    format or naming a class a state may not contain. ``reason`` is a stable code
    (:data:`glasswatch.kafka.state_codec.RefusalReason`); the message says what to do."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ExternalError(GlasswatchError):
    """A system outside this process failed."""


class NotifyError(ExternalError):
    """A notifier could not deliver; ``retryable`` tells the pipeline whether to retry.

    ``retry_after`` (seconds) is set when the receiver said how long to wait (HTTP 429).
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class BrokerError(ExternalError):
    """Kafka could not be reached or refused a request."""


class TrackingError(ExternalError):
    """MLflow could not be reached or refused a request."""


class EnvironmentNotReady(GlasswatchError, RuntimeError):
    """A tool the command needs (Java, Maven) is not installed."""


class GateFailed(GlasswatchError):
    """A model did not pass its quality gate."""
