"""Keep secrets out of text: every error path runs its message through :class:`Redactor`.

It replaces each secret, and the tails libraries print to "identify" a key (PagerDuty's
``*abcd`` last four), with ``[REDACTED]``. Secrets shorter than 6 characters are only replaced
whole (a short tail would match too much).

Examples
--------
>>> from pydantic import SecretStr
>>> r = Redactor([SecretStr("xoxb-123-canary"), None])
>>> r("auth failed for xoxb-123-canary (key *nary)")
'auth failed for [REDACTED] (key *[REDACTED])'
>>> r("nothing secret here")
'nothing secret here'

Third-party loggers get a :class:`RedactingFilter`:

>>> import logging
>>> record = logging.LogRecord("sdk", logging.DEBUG, "", 0, "body: %s", ("xoxb-123-canary",), None)
>>> RedactingFilter(r).filter(record), record.getMessage()
(True, 'body: [REDACTED]')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import SecretStr

__all__ = ["REDACTED", "RedactingFilter", "Redactor", "redact"]

REDACTED = "[REDACTED]"


class Redactor:
    """Callable that removes the given secrets (and their ``*last4`` tails) from text."""

    def __init__(self, secrets: Iterable[SecretStr | str | None]) -> None:
        values = {s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets}
        self._secrets = sorted((v for v in values if v), key=len, reverse=True)

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, REDACTED)
            if len(secret) >= 6:
                out = out.replace("*" + secret[-4:], "*" + REDACTED)
        return out

    def extend(self, secrets: Iterable[SecretStr | str | None]) -> Redactor:
        """A redactor for these secrets and ours."""
        return Redactor([*self._secrets, *secrets])


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message (for third-party loggers)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redactor(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact(text: object, secrets: Iterable[SecretStr | str | None]) -> str:
    """One-off :class:`Redactor` call."""
    return Redactor(secrets)(text)
