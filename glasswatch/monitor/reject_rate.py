"""Dead-letter rate per source partition: producers sending what the contract refuses.

Counted over fixed blocks of ``block_messages`` Kafka messages (offset-based, so the same log
always gives the same alerts, whatever the batching): a block whose reject fraction reaches
``threshold`` breaches, and the thresholds' hysteresis (:class:`~glasswatch.monitor.thresholds.Latch`)
fires after ``hysteresis`` breaching blocks in a row and resolves after ``resolve_after`` clean
ones. What fires depends on the rejects of the block that fired:

* ``schema_break`` (``critical``) when most rejects are schema problems (:data:`SCHEMA_REASONS`):
  a producer's messages suddenly fail the contract, e.g. it deployed a new one;
* ``dead_letters`` (``warning``) otherwise (malformed JSON, oversize, clock skew, ...).

The alert's ``model`` is the model behind most of the block's rejects when the reject path knows
it (:func:`model_hint`: the message key — producers key events by model — else the ``model``
field of the refused JSON), so the default inhibit rule can mute that model's per-feature alerts.
A source partition's rejects may come from several models, or from none that can be named (no
key, not JSON): the model is only set when one model accounts for more than half of the rejects,
otherwise ``model`` is the source *topic* (``source_topic``/``source_partition`` labels say where
in both cases). Names come from producers, so they are only trusted as far as the event contract's
name rule (:data:`~glasswatch.schemas.events.Name`).

Examples
--------
>>> m = RejectRate(topic="preds", partition=0, block_messages=10, threshold=0.3, hysteresis=1,
...                resolve_after=1)
>>> fired = []
>>> for off in range(30):
...     fired += m.update(off, ["not_json"] if 10 <= off < 15 else []).alerts
>>> [(a.kind.value, a.status.value, a.model, a.evidence["rejects"]) for a in fired]
[('dead_letters', 'firing', 'preds', {'not_json': 5}), ('dead_letters', 'resolved', 'preds', {})]
>>> broken = RejectRate(topic="preds", partition=0, block_messages=10, hysteresis=1)
>>> for off in range(10):
...     broken = broken.update(off, ["missing_field"], model=model_hint(b"churn"))
>>> [(a.kind.value, a.severity.value, a.model) for a in broken.alerts], broken.firing
([('schema_break', 'critical', 'churn')], True)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

import orjson
from pydantic import TypeAdapter, ValidationError

from glasswatch.monitor.thresholds import Latch
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, Severity
from glasswatch.schemas.coords import OffsetRange
from glasswatch.schemas.events import EPOCH as _EPOCH
from glasswatch.schemas.events import Name

__all__ = ["SCHEMA_REASONS", "RejectRate", "model_hint"]

SCHEMA_REASONS = frozenset({"unknown_schema_version", "unknown_type", "wrong_type", "missing_field"})
_NAME = TypeAdapter(Name)
_MAX_PEEK = 64 * 1024  # larger refused values are not parsed again for a model name
_MAX_MODELS_SHOWN = 5


def _valid_name(value: object) -> str | None:
    try:
        return _NAME.validate_python(value)
    except ValidationError:
        return None


def model_hint(key: bytes | None, raw: bytes | None = None) -> str | None:
    """The model a refused message belongs to, when it can be known, else ``None``.

    The message key first (the :class:`~glasswatch.client.Publisher` keys events by model), else
    the top-level ``model`` field of the JSON value (values over 64 KiB are not parsed). Only a
    valid event-contract name is returned; nothing raises, whatever the input.

    >>> model_hint(b"churn"), model_hint(None, b'{"model": "fraud", "type": 3}')
    ('churn', 'fraud')
    >>> model_hint(b"user 42", b'{"model": "fraud"}'), model_hint(b"\\xff", b"not json")
    ('fraud', None)
    >>> model_hint(b"a b"), model_hint(None, b'[{"model": "x"}]'), model_hint(None, b'{"model": 7}')
    (None, None, None)
    """
    if isinstance(key, bytes) and key:
        try:
            named = _valid_name(key.decode("utf-8"))
        except UnicodeDecodeError:
            named = None
        if named is not None:
            return named
    if not isinstance(raw, bytes) or not raw or len(raw) > _MAX_PEEK:
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return _valid_name(doc.get("model")) if isinstance(doc, dict) else None


class RejectRate:
    """Reject fraction of one source partition over blocks of messages (river-style state).

    :meth:`update` returns the instance; :attr:`alerts` holds the alert transitions (firing or
    resolved) of the last update, usually none.
    """

    def __init__(
        self,
        topic: str,
        partition: int,
        block_messages: int = 1000,
        threshold: float = 0.05,
        hysteresis: int = 2,
        resolve_after: int = 3,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.block_messages = block_messages
        self.threshold = threshold
        self.hysteresis = hysteresis
        self.resolve_after = resolve_after
        self._latch = Latch(hysteresis, resolve_after)
        self._messages = 0
        self._first: int | None = None
        self._rejects: Counter[str] = Counter()
        self._models: Counter[str] = Counter()
        self._open: Alert | None = None
        self._last_event_time = _EPOCH
        self._alerts: tuple[Alert, ...] = ()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore; a state of the earlier format (its own breach/clean counters) gets a Latch."""
        if "_latch" not in state:
            opened = state.get("_open") is not None
            latch = Latch(state["hysteresis"], state["resolve_after"])
            latch.active = opened
            for _ in range(state.pop("_clean", 0) if opened else state.pop("_breaching", 0)):
                latch.step(not opened)  # below the threshold that would flip it: only counts
            state.pop("_breaching", None)
            state.pop("_clean", None)
            state.update(_latch=latch, _models=Counter(), _alerts=())
        self.__dict__.update(state)

    @property
    def firing(self) -> bool:
        """Whether a ``dead_letters`` or ``schema_break`` alert is open."""
        return self._open is not None

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The alert transitions of the last :meth:`update` (empty unless a block closed)."""
        return self._alerts

    def update(
        self,
        offset: int,
        reasons: Iterable[str] = (),
        *,
        model: str | None = None,
        event_time: datetime | None = None,
    ) -> Self:
        """Account one message: its reject reasons (empty when accepted), the model it belongs to
        when known, and the latest event time seen (alerts carry event time, never wall time)."""
        if event_time is not None and event_time > self._last_event_time:
            self._last_event_time = event_time
        if self._first is None:
            self._first = offset
        self._messages += 1
        rejected = list(reasons)
        self._rejects.update(rejected)
        if model is not None and rejected:
            self._models[model] += len(rejected)
        self._alerts = ()
        if self._messages >= self.block_messages:
            self._alerts = self._close_block(offset)
            self._messages, self._first = 0, None
            self._rejects, self._models = Counter(), Counter()
        return self

    def _close_block(self, last: int) -> tuple[Alert, ...]:
        assert self._first is not None
        rate = sum(self._rejects.values()) / self._messages
        rng = OffsetRange(topic=self.topic, partition=self.partition, first=self._first, last=last)
        transition = self._latch.step(rate >= self.threshold)
        if transition == "firing":
            self._open = self._alert(AlertStatus.FIRING, rate, rng)
            return (self._open,)
        if transition == "resolved" and self._open is not None:
            resolved = self._alert(AlertStatus.RESOLVED, rate, rng)
            self._open = None
            return (resolved,)
        return ()

    def _model(self) -> str:
        """The model behind more than half of the block's rejects, else the source topic."""
        total = sum(self._rejects.values())
        top = min(self._models.items(), key=lambda kv: (-kv[1], kv[0]), default=None)
        return top[0] if top is not None and 2 * top[1] > total else self.topic

    def _alert(self, status: AlertStatus, rate: float, rng: OffsetRange) -> Alert:
        opened = self._open
        if opened is not None:  # a resolve keeps the identity and severity it fired with
            kind, severity, model = opened.kind, opened.severity, opened.model
        else:
            schema = sum(n for r, n in self._rejects.items() if r in SCHEMA_REASONS)
            broken = 2 * schema > sum(self._rejects.values())
            kind = AlertKind.SCHEMA_BREAK if broken else AlertKind.DEAD_LETTERS
            severity = Severity.CRITICAL if broken else Severity.WARNING
            model = self._model()
        where = f"{self.topic}[{self.partition}]"
        firing = status is AlertStatus.FIRING
        if kind is AlertKind.SCHEMA_BREAK:
            summary = (
                f"schema break on {where}: {rate:.1%} of messages fail the event contract"
                if firing
                else f"messages on {where} meet the event contract again"
            )
        else:
            summary = (
                f"{rate:.1%} of messages on {where} rejected into the dead-letter topic"
                if firing
                else f"dead letters on {where} back under {self.threshold:.0%}"
            )
        signal = f"dlq:{self.topic}:{self.partition}:rate"
        return Alert.build(
            kind=kind,
            severity=severity,
            model=model,
            signal=signal,
            summary=summary,
            status=status,
            starts_at=opened.starts_at if opened is not None else self._last_event_time,
            ends_at=None if firing else self._last_event_time,
            labels={"source_topic": self.topic, "source_partition": str(self.partition)},
            evidence={
                "signal": signal,
                "value": rate,
                "threshold": self.threshold,
                "messages": self._messages,
                "rejects": dict(self._rejects),
                "models": dict(self._models.most_common(_MAX_MODELS_SHOWN)),
                "window_first_offset": rng.first,
                "window_last_offset": rng.last,
            },
            lineage=Lineage(offsets=(rng,)),
            replay_command=f"glasswatch dlq show  # then: glasswatch replay --model "
            f"{model if model != self.topic else '<model>'} "
            f"--offsets {rng.topic}:{rng.partition}:{rng.first}-{rng.last}",
        )
