"""HTTP outcomes → :class:`~glasswatch.errors.NotifyError`, the same way for every receiver.

* 429 → retryable, ``retry_after`` from the ``Retry-After`` header (seconds or an HTTP date);
* 408, 5xx, timeouts and connection failures → retryable;
* any other 4xx (bad request, bad token, unknown channel) → permanent.

Messages are built here from status codes and a short, redacted piece of the body — never
from a library's exception text, which may quote credentials.

Examples
--------
>>> e = from_status("slack", 429, retry_after="7", redact=str)
>>> e.retryable, e.retry_after, str(e)
(True, 7.0, 'slack: HTTP 429')
>>> hide = lambda t: str(t).replace("canary", "***")
>>> from_status("pagerduty", 400, body="bad key canary", redact=hide).args
('pagerduty: HTTP 400: bad key ***',)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from glasswatch.errors import NotifyError

__all__ = ["from_status", "network_error", "parse_retry_after"]

_BODY_CHARS = 200


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (``None`` when absent or unreadable).

    >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("soon")
    (3.0, None, None)
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def from_status(
    service: str,
    status: int,
    *,
    body: str = "",
    retry_after: str | None = None,
    redact: Callable[[object], str],
) -> NotifyError:
    """The error for an unsuccessful HTTP ``status`` from ``service``."""
    snippet = redact(body.strip()[:_BODY_CHARS]) if body and body.strip() else ""
    message = f"{service}: HTTP {status}" + (f": {snippet}" if snippet else "")
    if status == 429:
        return NotifyError(message, retryable=True, retry_after=parse_retry_after(retry_after))
    retryable = status == 408 or status >= 500
    return NotifyError(message, retryable=retryable)


def network_error(service: str, exc: BaseException, *, redact: Callable[[object], str]) -> NotifyError:
    """A timeout or connection failure: always retryable; only the exception type is kept."""
    cause = exc.__cause__ or exc
    return NotifyError(redact(f"{service}: network error ({type(cause).__name__})"), retryable=True)
