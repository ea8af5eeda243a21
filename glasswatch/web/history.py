"""The dashboard's view of the topics: alerts, window summaries, acks and dead letters, bounded.

:class:`DashboardState` is fed every record the worker's
:class:`~glasswatch.kafka.history.TailFollower` reads (:meth:`DashboardState.apply`): at start
the tail of the windows and dead-letter topics and the whole alerts and acks topics, then what
arrives live. So after a restart ``/alerts/`` lists the open alerts again and the plots show the
windows before it. Everything is bounded: ``windows_per_series`` summaries per (model, stream),
``max_series`` series (least recently updated dropped first), the alert book's capacity, and a
sample of ``dead_letter_sample`` dead letters per reason. Records that do not parse are counted
in :attr:`DashboardState.skipped`, never raised (anyone may write these topics).

>>> from datetime import datetime, timezone
>>> from glasswatch.monitor.replay import Message
>>> from glasswatch.monitor.summary import WindowSummary
>>> from glasswatch.schemas.coords import Coord
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> state = DashboardState(windows_topic="w", windows_per_series=2)
>>> for i in range(3):
...     s = WindowSummary(model="m", stream="events", start=t, end=t.replace(minute=i + 1), count=i)
...     state = state.apply(Message(Coord("w", 0, i), s.model_dump_json().encode(), b"m"))
>>> [w.count for w in state.series("m", "events")], state.models()
([1, 2], ['m'])
>>> state.apply(Message(Coord("w", 0, 3), b"junk", None)).skipped
1
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self

import pydantic

from glasswatch.monitor.reject_rate import model_hint
from glasswatch.monitor.replay import Message
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.ack import AlertAck
from glasswatch.schemas.alert import Alert, AlertStatus
from glasswatch.schemas.dead_letter import DeadLetter
from glasswatch.web.alerts import AlertBook

__all__ = ["DashboardState", "Letter"]


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead letter of the sample, with where it was read (the DLQ record's offset)."""

    letter: DeadLetter
    dlq_partition: int
    dlq_offset: int


class DashboardState:
    """Bounded view of the alerts, windows, acks and dead-letter topics (see the module docstring)."""

    def __init__(
        self,
        *,
        alerts_topic: str = "",
        windows_topic: str = "",
        acks_topic: str = "",
        dead_letters_topic: str = "",
        book: AlertBook | None = None,
        windows_per_series: int = 500,
        max_series: int = 5000,
        dead_letter_sample: int = 20,
    ) -> None:
        self.alerts_topic = alerts_topic
        self.windows_topic = windows_topic
        self.acks_topic = acks_topic
        self.dead_letters_topic = dead_letters_topic
        self.book = book if book is not None else AlertBook()
        self.windows_per_series = windows_per_series
        self.max_series = max_series
        self.dead_letter_sample = dead_letter_sample
        self.skipped = 0
        """Records of the windows, acks and dead-letter topics that did not parse."""
        self.acks: dict[str, AlertAck] = {}
        self.dead_letter_counts: Counter[str] = Counter()
        """Dead letters read (the tail at start, then live) per reason."""
        self.rejects_by_model: Counter[str] = Counter()
        """Rejected events of those dead letters per model, when the refused JSON names one
        (:func:`~glasswatch.monitor.reject_rate.model_hint`; at most ``max_series`` models)."""
        self._series: OrderedDict[tuple[str, str], deque[WindowSummary]] = OrderedDict()
        self._letters: dict[str, deque[Letter]] = {}

    # -- feeding ---------------------------------------------------------------------------
    def apply(self, msg: Message) -> Self:
        """Take one record of any followed topic (dispatched on its topic)."""
        topic = msg.coord.topic
        if topic == self.alerts_topic:
            alert = self.book.parse(msg.value)
            if alert is not None:
                self.book.add(alert)
        elif topic == self.windows_topic:
            self._window(msg.value)
        elif topic == self.acks_topic:
            self._ack(msg)
        elif topic == self.dead_letters_topic:
            self._letter(msg)
        return self

    def add_window(self, summary: WindowSummary) -> Self:
        key = (summary.model, summary.stream)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.windows_per_series)
        series.append(summary)
        self._series.move_to_end(key)
        while len(self._series) > self.max_series:
            self._series.popitem(last=False)
        return self

    def add_ack(self, ack: AlertAck) -> Self:
        current = self.acks.get(ack.fingerprint)
        if current is None or (ack.starts_at, ack.at) >= (current.starts_at, current.at):
            self.acks[ack.fingerprint] = ack
        return self

    def _window(self, raw: bytes | None) -> None:
        try:
            summary = WindowSummary.model_validate_json(raw or b"")
        except (pydantic.ValidationError, ValueError):
            self.skipped += 1
            return
        self.add_window(summary)

    def _ack(self, msg: Message) -> None:
        if msg.value is None:  # a tombstone: the ack of that fingerprint is withdrawn
            if msg.key is not None:
                self.acks.pop(msg.key.decode("utf-8", "replace"), None)
            return
        try:
            ack = AlertAck.model_validate_json(msg.value)
        except pydantic.ValidationError:
            self.skipped += 1
            return
        if msg.key is None or msg.key.decode("utf-8", "replace") == ack.fingerprint:
            self.add_ack(ack)

    def _letter(self, msg: Message) -> None:
        try:
            letter = DeadLetter.model_validate_json(msg.value or b"")
        except (pydantic.ValidationError, ValueError):
            self.skipped += 1
            return
        reason = letter.reason
        self.dead_letter_counts[reason] += letter.rejected
        try:
            model = model_hint(None, letter.raw_bytes())
        except ValueError:  # not base64
            model = None
        known = self.rejects_by_model
        if model is not None and (model in known or len(known) < self.max_series):
            self.rejects_by_model[model] += letter.rejected
        sample = self._letters.get(reason)
        if sample is None:
            if len(self._letters) >= 64:  # reasons are producer-influenced only through REASONS
                return
            sample = self._letters[reason] = deque(maxlen=self.dead_letter_sample)
        sample.append(Letter(letter, msg.coord.partition, msg.coord.offset))

    # -- reading ---------------------------------------------------------------------------
    def models(self) -> list[str]:
        """Every model with windows or alerts in the view, sorted."""
        names = {m for m, _ in self._series} | {a.model for a in self.book.latest()}
        return sorted(names)

    def streams(self, model: str) -> list[str]:
        return sorted(s for m, s in self._series if m == model)

    def series(self, model: str, stream: str) -> list[WindowSummary]:
        """The windows of one stream of one model, in the order they were published."""
        return list(self._series.get((model, stream), ()))

    def last_window(self, model: str) -> WindowSummary | None:
        found = [s[-1] for (m, _), s in self._series.items() if m == model and s]
        return max(found, key=lambda w: w.end, default=None)

    def open_alerts(self, model: str | None = None) -> list[Alert]:
        return [
            a
            for a in self.book.latest()
            if a.status is AlertStatus.FIRING and (model is None or a.model == model)
        ]

    def alerts_of(self, model: str) -> Iterable[Alert]:
        """Every remembered alert (all history) of ``model``."""
        for latest in self.book.latest():
            if latest.model == model:
                yield from self.book.history(latest.fingerprint)

    def ack_of(self, alert: Alert) -> AlertAck | None:
        """The ack of this alert's firing episode, if any."""
        ack = self.acks.get(alert.fingerprint)
        return ack if ack is not None and ack.covers(alert.fingerprint, alert.starts_at) else None

    def dead_letters(self) -> dict[str, list[Letter]]:
        """The sample per reason, newest first, reasons sorted."""
        return {r: list(reversed(self._letters[r])) for r in sorted(self._letters)}
