"""Receivers: where notifications go, and the secrets they need.

Kinds: ``slack`` (channel, token), ``pagerduty`` (routing key), ``desktop``, ``webhook`` (URL,
itself a secret), ``alertmanager`` (an Alertmanager's base URL, API v2) and ``log``. Secrets are
``SecretStr`` literals or ``{env: NAME}`` references; core never reads the environment,
:meth:`SecretRef.resolve` is handed it at the edge.

URLs are checked when the config is loaded (so ``glasswatch routes check`` catches them, and
``router run`` stops with one line instead of a client's traceback), by :func:`url_problem`:
PagerDuty's ``url`` must be ``https://`` (the ``pagerduty`` client refuses anything else: its
``url`` setter demands the literal prefix ``https://``); Slack's ``api_url`` and a literal webhook
``url`` must be well-formed ``http(s)://host...`` URLs (``api_url`` ending in ``/``, since the SDK
joins method names onto it). A webhook URL is a secret: its error never quotes it; one given
by ``{env: NAME}`` is checked when the router resolves it.

Examples
--------
>>> r = PagerDutyReceiver(name="oncall", routing_key={"env": "PD_KEY"})
>>> r.routing_key.resolve({"PD_KEY": "canary"})
SecretStr('**********')
>>> SlackReceiver(name="team", channel="#ml", token="xoxb-1").token
SecretRef(value=SecretStr('**********'), env=None)
>>> url_problem("http://events.local", https_only=True)
'must start with https:// (the PagerDuty client refuses other schemes)'
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = [
    "AlertmanagerReceiver",
    "AnyReceiver",
    "DesktopReceiver",
    "LogReceiver",
    "PagerDutyReceiver",
    "Receiver",
    "SecretRef",
    "SlackReceiver",
    "WebhookReceiver",
    "url_problem",
]


def url_problem(url: str, *, https_only: bool = False, trailing_slash: bool = False) -> str | None:
    """What is wrong with ``url`` as a receiver endpoint (``None``: nothing). Never quotes it."""
    if https_only and not url.startswith("https://"):
        return "must start with https:// (the PagerDuty client refuses other schemes)"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "is not a well-formed URL"
    if parts.scheme not in ("http", "https") or not url.lower().startswith(("http://", "https://")):
        return "must be an http:// or https:// URL"
    if not parts.hostname or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return "is not a well-formed URL (no host, or spaces or control characters)"
    if trailing_slash and not parts.path.endswith("/"):
        return "must end with / (method names are joined onto it)"
    return None


def _checked(url: str | None, **kw: bool) -> str | None:
    problem = None if url is None else url_problem(url, **kw)
    if problem is not None:
        raise ValueError(problem)
    return url


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

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        return _checked(value, trailing_slash=True)


class PagerDutyReceiver(_Receiver):
    kind: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretRef
    url: str | None = None
    """Events API base (Alertmanager's ``url``); default ``https://events.pagerduty.com``."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _checked(value, https_only=True)


class DesktopReceiver(_Receiver):
    kind: Literal["desktop"] = "desktop"


class WebhookReceiver(_Receiver):
    kind: Literal["webhook"] = "webhook"
    url: SecretRef

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretRef) -> SecretRef:
        if value.value is not None:
            _checked(value.value.get_secret_value())
        return value


class AlertmanagerReceiver(_Receiver):
    kind: Literal["alertmanager"] = "alertmanager"
    url: str
    """Base URL of the Alertmanager (``http://alertmanager:9093``); alerts go to ``/api/v2/alerts``."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        _checked(value)
        return value


class LogReceiver(_Receiver):
    kind: Literal["log"] = "log"


AnyReceiver = (
    SlackReceiver | PagerDutyReceiver | DesktopReceiver | WebhookReceiver | AlertmanagerReceiver | LogReceiver
)
Receiver = Annotated[AnyReceiver, Field(discriminator="kind")]
"""A receiver of any kind, told apart by ``kind`` in YAML."""
