"""An acknowledgement: a person says "I have this alert" — escalation stops, receivers are told.

Acks are data on the compacted acks topic (``TopicSettings.acks``, default ``<alerts>.acks``),
keyed by the alert's fingerprint, so the latest ack of a condition is what counts and every
reader (router, dashboard, ``glasswatch alerts``) rebuilds the same view after a restart. An
ack refers to one *firing episode*: ``starts_at`` is the acknowledged alert's ``starts_at``, so
an ack of yesterday's incident does not silence today's new one with the same fingerprint.

Everything here may be written by anyone who can write the topic: the fields are bounded, and
whoever shows ``by`` or ``note`` to a person escapes them.

Examples
--------
>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> ack = AlertAck(fingerprint="0123456789abcdef", starts_at=t, by="ana", at=t, note="on it")
>>> AlertAck.model_validate_json(ack.model_dump_json()) == ack
True
>>> ack.covers("0123456789abcdef", t), ack.covers("0123456789abcdef", t.replace(day=2))
(True, False)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from glasswatch.schemas.alert import Fingerprint

__all__ = ["ACK_SCHEMA_VERSION", "AlertAck"]

ACK_SCHEMA_VERSION: Literal[1] = 1


class AlertAck(BaseModel):
    """``by`` acknowledged the firing episode of ``fingerprint`` that started at ``starts_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    schema_version: Literal[1] = ACK_SCHEMA_VERSION
    fingerprint: Fingerprint
    starts_at: AwareDatetime
    """``starts_at`` of the acknowledged alert (one firing episode of the condition)."""
    by: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    at: AwareDatetime
    note: Annotated[str, StringConstraints(max_length=2000)] = ""

    def covers(self, fingerprint: str, starts_at: datetime) -> bool:
        """Does this ack acknowledge the episode ``(fingerprint, starts_at)``?"""
        return self.fingerprint == fingerprint and self.starts_at == starts_at
