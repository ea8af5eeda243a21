"""Dead-letter rate per source partition: producers sending what the contract refuses.

Counted over fixed blocks of ``block_messages`` Kafka messages (offset-based, so the same log
always gives the same alerts, whatever the batching): a block whose reject fraction reaches
``threshold`` counts as breaching; ``hysteresis`` breaching blocks in a row fire a
``dead_letters`` alert (``critical`` when most rejects are schema problems — a producer deployed
a new contract), and ``resolve_after`` clean blocks resolve it.

Examples
--------
>>> m = RejectRate(topic="preds", partition=0, block_messages=10, threshold=0.3, hysteresis=1,
...                resolve_after=1)
>>> fired = []
>>> for off in range(30):
...     fired += m.update(off, ["not_json"] if 10 <= off < 15 else [])
>>> [(a.status.value, a.evidence["rejects"]) for a in fired]
[('firing', {'not_json': 5}), ('resolved', {})]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, OffsetRange, Severity

__all__ = ["SCHEMA_REASONS", "RejectRate"]

SCHEMA_REASONS = frozenset({"unknown_schema_version", "unknown_type", "wrong_type", "missing_field"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RejectRate:
    """Reject fraction of one source partition over blocks of messages (river-style state)."""

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
        self._messages = 0
        self._first: int | None = None
        self._rejects: Counter[str] = Counter()
        self._breaching = 0
        self._clean = 0
        self._open: Alert | None = None
        self._last_event_time = _EPOCH

    @property
    def firing(self) -> bool:
        return self._open is not None

    def observe_time(self, event_time: datetime) -> None:
        """Remember the latest event time seen (alerts are stamped with event time, not wall time)."""
        self._last_event_time = max(self._last_event_time, event_time)

    def update(self, offset: int, reasons: Iterable[str]) -> list[Alert]:
        """Account one message (its reject reasons, empty when accepted); returns alert transitions."""
        if self._first is None:
            self._first = offset
        self._messages += 1
        self._rejects.update(reasons)
        if self._messages < self.block_messages:
            return []
        out = self._close_block(offset)
        self._messages, self._first, self._rejects = 0, None, Counter()
        return out

    def _close_block(self, last: int) -> list[Alert]:
        assert self._first is not None
        rejected = sum(self._rejects.values())
        rate = rejected / self._messages
        rng = OffsetRange(topic=self.topic, partition=self.partition, first=self._first, last=last)
        if rate >= self.threshold:
            self._breaching, self._clean = self._breaching + 1, 0
            if self._open is None and self._breaching >= self.hysteresis:
                self._open = self._alert(AlertStatus.FIRING, rate, rng)
                return [self._open]
        else:
            self._breaching, self._clean = 0, self._clean + 1
            if self._open is not None and self._clean >= self.resolve_after:
                resolved = self._alert(AlertStatus.RESOLVED, rate, rng)
                self._open = None
                return [resolved]
        return []

    def _alert(self, status: AlertStatus, rate: float, rng: OffsetRange) -> Alert:
        schema = sum(n for r, n in self._rejects.items() if r in SCHEMA_REASONS)
        rejected = sum(self._rejects.values())
        severity = Severity.CRITICAL if rejected and schema / rejected > 0.5 else Severity.WARNING
        if self._open is not None:
            severity = self._open.severity  # a resolve keeps the severity it fired with
        where = f"{self.topic}[{self.partition}]"
        return Alert.build(
            kind=AlertKind.DEAD_LETTERS,
            severity=severity,
            model=self.topic,
            signal=f"dlq:{self.topic}:{self.partition}:rate",
            summary=(
                f"{rate:.1%} of messages on {where} rejected into the dead-letter topic"
                if status is AlertStatus.FIRING
                else f"dead letters on {where} back under {self.threshold:.0%}"
            ),
            status=status,
            starts_at=self._open.starts_at if self._open is not None else self._last_event_time,
            ends_at=self._last_event_time if status is AlertStatus.RESOLVED else None,
            labels={"source_topic": self.topic, "source_partition": str(self.partition)},
            evidence={
                "signal": f"dlq:{self.topic}:{self.partition}:rate",
                "value": rate,
                "threshold": self.threshold,
                "messages": self._messages,
                "rejects": dict(self._rejects),
                "window_first_offset": rng.first,
                "window_last_offset": rng.last,
            },
            lineage=Lineage(offsets=(rng,)),
            replay_command=f"glasswatch dlq show  # then: glasswatch replay --model <model> "
            f"--offsets {rng.topic}:{rng.partition}:{rng.first}-{rng.last}",
        )
