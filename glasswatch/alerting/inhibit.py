"""Inhibition: a firing *source* alert mutes *target* alerts that agree on the ``equal`` labels.

The default rule says: while a ``schema_break`` or ``upstream_outage`` alert fires for a model,
the per-feature alerts of that model (``signal`` ``feature:...``) are noise and stay quiet.
Both kinds are emitted for real: ``schema_break`` by the reject rate of a source partition
(:mod:`glasswatch.monitor.reject_rate`, ``model`` from the message keys) and ``upstream_outage``
by the model monitor when a model's windows are empty. Semantics follow Alertmanager's
``inhibit/inhibit.go``: an alert never inhibits itself, and a label missing on both sides counts
as equal. :class:`Inhibitor` is a :class:`~glasswatch.alerting.mute.Muter` (inhibition does not
depend on ``now``); the dispatcher's inhibit stage is ``mute_stage(inhibitor)``.

The firing alerts are the inhibitor's state: given a :class:`~glasswatch.alerting.state_book.StateBook`
it writes each firing alert there (key: fingerprint, value: the alert's JSON) and deletes it on
resolve, so the router persists them and :meth:`Inhibitor.restore` brings inhibition back after a
restart (the dispatcher also re-routes the restored alerts, see
:meth:`~glasswatch.alerting.dispatcher.Dispatcher.restore`).

Examples
--------
>>> from datetime import datetime, timezone
>>> from glasswatch.schemas.alert import Alert, AlertKind, Severity
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> outage = Alert.build(kind=AlertKind.UPSTREAM_OUTAGE, severity=Severity.CRITICAL, model="churn",
...                      signal="events", summary="no events", starts_at=t)
>>> drift = Alert.build(kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, model="churn",
...                     signal="feature:age", summary="age drifted", starts_at=t)
>>> inhibitor = Inhibitor(DEFAULT_INHIBIT_RULES)
>>> inhibitor.mutes(drift, t)
False
>>> inhibitor.update(outage).mutes(drift, t), inhibitor.mutes(outage, t)
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Self

import pydantic
from pydantic import BaseModel, ConfigDict, field_validator

from glasswatch.alerting.matchers import Matcher, matches_all, parse_matchers
from glasswatch.alerting.state_book import StateBook
from glasswatch.schemas.alert import Alert, AlertStatus

__all__ = ["DEFAULT_INHIBIT_RULES", "InhibitRule", "Inhibitor"]


class InhibitRule(BaseModel):
    """Mute alerts matching ``target_matchers`` while one matching ``source_matchers`` fires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    @field_validator("source_matchers", "target_matchers", mode="before")
    @classmethod
    def _parse(cls, value: Iterable[str | Matcher]) -> tuple[Matcher, ...]:
        return parse_matchers(value)

    def inhibits(self, source: Alert, target: Alert) -> bool:
        """Whether firing ``source`` mutes ``target`` under this rule."""
        if source.fingerprint == target.fingerprint:
            return False
        if not (
            matches_all(self.source_matchers, source.labels)
            and matches_all(self.target_matchers, target.labels)
        ):
            return False
        return all(source.labels.get(k, "") == target.labels.get(k, "") for k in self.equal)


DEFAULT_INHIBIT_RULES: tuple[InhibitRule, ...] = (
    InhibitRule(
        source_matchers=parse_matchers(['kind=~"schema_break|upstream_outage"']),
        target_matchers=parse_matchers(['signal=~"feature:.*"', 'kind!~"schema_break|upstream_outage"']),
        equal=("model",),
    ),
)
"""A schema break or upstream outage mutes the per-feature alerts of the same model."""


class Inhibitor:
    """Keeps the currently firing alerts and answers ``mutes(alert)`` from them."""

    def __init__(
        self, rules: Sequence[InhibitRule] = DEFAULT_INHIBIT_RULES, state: StateBook | None = None
    ) -> None:
        self.rules = tuple(rules)
        self.state = state
        self._firing: dict[str, Alert] = {}

    def update(self, alert: Alert) -> Self:
        """Track ``alert``: firing alerts may inhibit, resolved ones stop inhibiting."""
        if alert.status is AlertStatus.FIRING:
            self._firing[alert.fingerprint] = alert
            if self.state is not None:
                self.state.set(alert.fingerprint, alert.model_dump_json().encode())
        else:
            self._firing.pop(alert.fingerprint, None)
            if self.state is not None:
                self.state.delete(alert.fingerprint)
        return self

    def restore(self) -> list[Alert]:
        """Load the firing alerts kept in :attr:`state` (unreadable entries are dropped);
        returns them, oldest episode first."""
        if self.state is None:
            return []
        for fp, raw in self.state.items():
            try:
                alert = Alert.model_validate_json(raw)
            except pydantic.ValidationError:
                self.state.delete(fp)
                continue
            if alert.status is AlertStatus.FIRING and alert.fingerprint == fp:
                self._firing.setdefault(fp, alert)
        return sorted(self._firing.values(), key=lambda a: a.starts_at)

    def firing_alert(self, fingerprint: str) -> Alert | None:
        """The firing alert with ``fingerprint``, if any."""
        return self._firing.get(fingerprint)

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(self._firing.values())

    def mutes(self, alert: Alert, now: datetime) -> bool:
        """True when some firing alert inhibits ``alert`` under some rule (``now`` is unused)."""
        del now
        return any(rule.inhibits(source, alert) for rule in self.rules for source in self._firing.values())
