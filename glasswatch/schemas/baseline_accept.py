"""A baseline accept: a person says "this level is the new normal" for some signals of a model.

Accepts are records on the baseline-accepts topic (``TopicSettings.baseline_accepts``, default
``<alerts>.baseline-accepts``; a log, not compacted, keyed by model), written by
``glasswatch baseline accept`` and the dashboard's "Accept as new normal" button. The worker
applies each accept once to every monitor of its model (see
:mod:`glasswatch.agents.baseline_accepts` for *where* in the event stream, so that a replay
applies it at the same point): the learned bands and drift detectors of the signals that
``signal`` matches (``fnmatch``, ``None``: every signal) take their current level as the new
normal and their open alerts resolve. Static bands are a person's own numbers and stay.

``at`` is the event time from which the accept applies; ``created_at`` the wall-clock time it
was written. Everything here may be written by anyone who can write the topic: strings are
bounded and printable, unknown fields are refused, and whoever shows ``by`` or ``note`` to a
person escapes them.

Examples
--------
>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> a = BaselineAccept.create(model="churn", signal="feature:age:*", at=t, by="ana", created_at=t)
>>> BaselineAccept.model_validate_json(a.model_dump_json()) == a, len(a.id)
(True, 32)
>>> a.matches("feature:age:mean"), a.matches("events:rate")
(True, False)
"""

from __future__ import annotations

import fnmatch
import glob
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, field_validator

from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.schemas.events import Name
from glasswatch.schemas.text import printable

__all__ = ["ACCEPT_ID_PATTERN", "ACCEPT_LEAD", "BASELINE_ACCEPT_SCHEMA_VERSION", "MAX_PATTERN",
           "BaselineAccept", "acceptable"]  # fmt: skip

BASELINE_ACCEPT_SCHEMA_VERSION: Literal[1] = 1
ACCEPT_ID_PATTERN = r"^[0-9a-f]{32}$"
"""An accept's id: 32 lowercase hex digits (a uuid4's hex)."""
MAX_PATTERN = 300
"""Longest signal pattern, in characters (a signal name is ``feature:<128 chars>:<statistic>``)."""
ACCEPT_LEAD = timedelta(seconds=10)
"""How far ahead of the wall clock a person's accept starts (its ``at``) by default, so that the
worker has read it before the model's events reach that time."""

_Printable = Annotated[StrictStr, Field(max_length=MAX_PATTERN)]


class BaselineAccept(BaseModel):
    """``by`` accepted, from event time ``at`` on, the current level of ``model``'s signals
    matching ``signal`` as their new normal (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    schema_version: Literal[1] = BASELINE_ACCEPT_SCHEMA_VERSION
    id: Annotated[StrictStr, Field(pattern=ACCEPT_ID_PATTERN)]
    model: Name
    signal: Annotated[_Printable, Field(min_length=1)] | None = None
    """An ``fnmatch`` pattern over signal names (``feature:age:*``); ``None``: every signal."""
    at: AwareDatetime
    """Event time from which the accept applies (kept in UTC)."""
    by: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    note: Annotated[StrictStr, Field(max_length=2000)] = ""
    created_at: AwareDatetime

    @field_validator("signal")
    @classmethod
    def _printable_pattern(cls, v: str | None) -> str | None:
        if v is not None and (printable(v) != v or v.strip() != v):
            raise ValueError("a signal pattern holds printable characters, no edge whitespace")
        return v

    @field_validator("by")
    @classmethod
    def _printable_name(cls, v: str) -> str:
        if printable(v) != v or not v.strip():
            raise ValueError("'by' is a printable name")
        return v

    @field_validator("at", "created_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.astimezone(UTC)

    @classmethod
    def create(
        cls,
        *,
        model: str,
        signal: str | None,
        at: datetime,
        by: str,
        note: str = "",
        created_at: datetime,
        accept_id: str | None = None,
    ) -> BaselineAccept:
        """A new accept with a fresh random id (or ``accept_id``, e.g. derived by a test)."""
        return cls(id=accept_id or uuid.uuid4().hex, model=model, signal=signal, at=at, by=by, note=note,
                   created_at=created_at)  # fmt: skip

    @classmethod
    def of_alert(cls, alert: Alert, *, by: str, note: str, now: datetime) -> BaselineAccept:
        """An accept of exactly ``alert``'s model and signal (the dashboard's button), from
        :data:`ACCEPT_LEAD` after ``now`` on; the signal is escaped for ``fnmatch``."""
        return cls.create(model=alert.model, signal=glob.escape(alert.signal), at=now + ACCEPT_LEAD, by=by,
                          note=note, created_at=now)  # fmt: skip

    def matches(self, signal: str) -> bool:
        """Whether this accept covers the signal named ``signal``."""
        return fnmatch.fnmatchcase(signal, self.signal or "*")


def acceptable(alert: Alert) -> bool:
    """Whether accepting a new normal can resolve ``alert``: a firing alert of a learned band or a
    drift detector (a static band, an outage or a rate of dead letters is not a baseline)."""
    source = alert.labels.get("source", "")
    return alert.status is AlertStatus.FIRING and (source == "dynamic" or source.startswith("detector:"))
