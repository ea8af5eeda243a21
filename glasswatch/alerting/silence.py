"""Silences: mute alerts whose labels match, between ``starts_at`` and ``ends_at``.

A silence is data (stored in a compacted topic keyed by ``id``); expiring one means writing it
again with ``ends_at=now``. :class:`Silences` is a :class:`~glasswatch.alerting.mute.Muter`: the
dispatcher's silence stage is ``mute_stage(silences)``, which mutes *firing* notifications only.
Resolves, precisely: a resolve goes to a receiver only when that receiver was told of this
episode's firing (the dedup stage reads the durable delivery log). So the resolve of an alert
whose firing was silenced (or inhibited) and never delivered is not sent — silenced or not
when it resolves — while the resolve of a firing delivered *before* the silence started is sent,
so no PagerDuty incident or Slack thread is left open by a silence. (Checked for issue 13: the
dispatcher already behaved so; ``tests/unit/alerting/test_silence.py`` pins both cases.)

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> s = Silence.create(matchers=['model="churn"'], starts_at=t, ends_at=t + timedelta(hours=1),
...                    created_by="ana", comment="retraining", id="s1")
>>> a = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="churn",
...                 signal="feature:age", summary="age drifted", starts_at=t)
>>> s.mutes(a, t + timedelta(minutes=5)), s.mutes(a, t + timedelta(hours=2))
(True, False)
>>> silences = Silences().update(s)
>>> silences.mutes(a, t), [x.id for x in silences.expire("s1", t).active(t)]
(True, [])
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from glasswatch.alerting.matchers import Matcher, matches_all, parse_matchers
from glasswatch.schemas.alert import Alert

__all__ = ["Silence", "Silences"]


class Silence(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""

    @field_validator("matchers", mode="before")
    @classmethod
    def _parse(cls, value: Iterable[str | Matcher]) -> tuple[Matcher, ...]:
        return parse_matchers(value)

    @model_validator(mode="after")
    def _check(self) -> Silence:
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher")
        if self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        return self

    @classmethod
    def create(
        cls,
        *,
        matchers: Iterable[str | Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str = "",
        id: str | None = None,
    ) -> Silence:
        """A new silence (a random id unless given)."""
        return cls(
            id=id or uuid.uuid4().hex,
            matchers=parse_matchers(matchers),
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
        )

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, alert: Alert, now: datetime) -> bool:
        """True when active at ``now`` and every matcher matches ``alert``'s labels."""
        return self.active(now) and matches_all(self.matchers, alert.labels)

    def expired(self, now: datetime) -> Silence:
        """This silence ending at ``now`` (already-ended silences keep their end)."""
        return self if self.ends_at <= now else self.model_copy(update={"ends_at": max(now, self.starts_at)})


class Silences:
    """The current set of silences by id (the latest version of each wins)."""

    def __init__(self, silences: Iterable[Silence] = ()) -> None:
        self._by_id: dict[str, Silence] = {}
        for s in silences:
            self.update(s)

    def update(self, silence: Silence) -> Self:
        self._by_id[silence.id] = silence
        return self

    def expire(self, silence_id: str, now: datetime) -> Self:
        if silence_id in self._by_id:
            self._by_id[silence_id] = self._by_id[silence_id].expired(now)
        return self

    def get(self, silence_id: str) -> Silence | None:
        return self._by_id.get(silence_id)

    def all(self) -> tuple[Silence, ...]:
        return tuple(self._by_id.values())

    def active(self, now: datetime) -> tuple[Silence, ...]:
        return tuple(s for s in self._by_id.values() if s.active(now))

    def mutes(self, alert: Alert, now: datetime) -> bool:
        """True when some silence mutes ``alert`` at ``now`` (the ``Muter`` seam)."""
        return any(s.mutes(alert, now) for s in self._by_id.values())
