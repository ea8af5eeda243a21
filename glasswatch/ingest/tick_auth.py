"""Only a glasswatch worker may write ticks: an HMAC header proves a tick's origin.

A :class:`~glasswatch.schemas.events.Tick` moves a partition's event time on. Anyone who can
produce to an input topic could otherwise write one (``9999-12-31`` closes thousands of empty
windows, fires ``event_rate`` alerts and makes every later event ``late``). The worker therefore
writes each tick with a Kafka record header :data:`TICK_HEADER` holding
HMAC-SHA256(key, topic | partition | event time in µs since the epoch), keyed by a secret derived
from the worker's state key (every worker of one consumer group shares it). The ingest agent and
replays verify it (:meth:`TickAuth.verify`); a tick without a valid header is dead-lettered as
``forged_tick``. Pure: stdlib ``hmac`` only, no clock.

Examples
--------
>>> from datetime import datetime, timezone
>>> auth = TickAuth(b"k" * 32)
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> headers = [(TICK_HEADER, auth.sign("predictions", 3, t))]
>>> auth.verify("predictions", 3, t, headers), auth.verify("predictions", 2, t, headers)
(True, False)
>>> auth.verify("predictions", 3, t, None), TickAuth(b"x" * 32).verify("predictions", 3, t, headers)
(False, False)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from glasswatch.schemas.events import EPOCH

__all__ = ["TICK_HEADER", "Headers", "TickAuth", "header_value"]

TICK_HEADER = "glasswatch-tick"
"""Name of the Kafka record header that carries a tick's signature (hex HMAC-SHA256)."""

Headers = Mapping[str, Any] | Iterable[tuple[str, Any]] | None
"""Kafka record headers as clients hand them out: a list of ``(name, bytes)`` or a mapping."""

_DOMAIN = b"glasswatch tick key v1"
_MICRO = timedelta(microseconds=1)


def header_value(headers: Headers, name: str) -> bytes | None:
    """The (last) value of header ``name`` as bytes, or None."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: bytes | None = None
    for item in pairs:
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        if isinstance(key, bytes):
            key = key.decode("utf-8", "replace")
        if key == name:
            if isinstance(value, str):
                value = value.encode("utf-8", "replace")
            found = bytes(value) if isinstance(value, bytes | bytearray) else None
    return found


class TickAuth:
    """Signs and verifies ticks with a key derived from the worker secret ``secret``."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the tick key must not be empty")
        self._key = hmac.new(secret, _DOMAIN, hashlib.sha256).digest()

    def __repr__(self) -> str:  # never the key
        return "TickAuth(<key>)"

    def sign(self, topic: str, partition: int, event_time: datetime) -> bytes:
        """The header value of a tick at ``event_time`` in ``topic[partition]`` (hex, ASCII)."""
        micros = (event_time - EPOCH) // _MICRO  # timedelta arithmetic: no overflow near year 9999
        msg = f"{topic}\x00{partition}\x00{micros}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest().encode("ascii")

    def verify(self, topic: str, partition: int, event_time: datetime, headers: Headers) -> bool:
        """Whether ``headers`` carry this key's signature of the tick."""
        got = header_value(headers, TICK_HEADER)
        if got is None:
            return False
        return hmac.compare_digest(got, self.sign(topic, partition, event_time))
