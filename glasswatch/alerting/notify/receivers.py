"""Receivers: where notifications go, and the secrets they need.

Kinds: ``slack`` (channel, token), ``pagerduty`` (routing key), ``desktop``, ``webhook`` (URL,
itself a secret) and ``log``. Secrets are ``SecretStr`` literals or ``{env: NAME}`` references;
core never reads the environment, :meth:`SecretRef.resolve` is handed it at the edge.

Examples
--------
>>> r = PagerDutyReceiver(name="oncall", routing_key={"env": "PD_KEY"})
>>> r.routing_key.resolve({"PD_KEY": "canary"})
SecretStr('**********')
>>> SlackReceiver(name="team", channel="#ml", token="xoxb-1").token
SecretRef(value=SecretStr('**********'), env=None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "AnyReceiver",
    "DesktopReceiver",
    "LogReceiver",
    "PagerDutyReceiver",
    "Receiver",
    "SecretRef",
    "SlackReceiver",
    "WebhookReceiver",
]


class SecretRef(BaseModel):
    """A secret given inline (``SecretStr``) or as the name of an environment variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: SecretStr | None = None
    env: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str | SecretStr):
            return {"value": data}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.value is None) == (self.env is None):
            raise ValueError("give exactly one of a literal value or {env: NAME}")
        return self

    def resolve(self, environ: Mapping[str, str]) -> SecretStr | None:
        """The secret, reading ``environ`` for an env reference (``None`` when unset)."""
        if self.value is not None:
            return self.value
        found = environ.get(self.env or "")
        return SecretStr(found) if found else None


class _Receiver(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)


class SlackReceiver(_Receiver):
    kind: Literal["slack"] = "slack"
    channel: str = Field(min_length=1)
    token: SecretRef
    api_url: str | None = None
    """Slack Web API base (Alertmanager's ``api_url``); default ``https://slack.com/api/``."""


class PagerDutyReceiver(_Receiver):
    kind: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretRef
    url: str | None = None
    """Events API base (Alertmanager's ``url``); default ``https://events.pagerduty.com``."""


class DesktopReceiver(_Receiver):
    kind: Literal["desktop"] = "desktop"


class WebhookReceiver(_Receiver):
    kind: Literal["webhook"] = "webhook"
    url: SecretRef


class LogReceiver(_Receiver):
    kind: Literal["log"] = "log"


AnyReceiver = SlackReceiver | PagerDutyReceiver | DesktopReceiver | WebhookReceiver | LogReceiver
Receiver = Annotated[AnyReceiver, Field(discriminator="kind")]
"""A receiver of any kind, told apart by ``kind`` in YAML."""
