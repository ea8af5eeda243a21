"""The dead-letter contract: a message glasswatch could not accept, with why and where from.

One dead letter per refused *message*: the original bytes are kept once (base64) so nothing is
lost: fix the producer, then replay. A raw value larger than ``MAX_RAW_BYTES`` (an ``oversize``
message cannot fit in a Kafka message once base64-encoded) keeps its first ``MAX_RAW_BYTES``
bytes, its size and sha256; the whole value stays readable at its source coordinates for the
input topic's retention.

When items of a batch envelope are refused (schema version 2), the letter of that message lists
them in ``items``: groups of items refused for the same reason, error class and detail, with
their indexes in the batch and an excerpt (at most ``MAX_EXCERPT_BYTES``) of the group's first
item. A batch's rejects therefore cost O(message), never one copy of the message per item (an
850 kB envelope of 10,000 bad items once wrote 3.5 GB). ``reason`` is then the most frequent item
reason and ``rejected`` the number of refused items; :meth:`DeadLetter.rejected_items` lists
``(index, reason)`` per item. A letter of schema version 1 (one per item, ``index_in_batch``)
still validates.

Examples
--------
>>> d = DeadLetter.of(raw=b"not json", topic="predictions", partition=0, offset=7,
...                   error_class="ValidationError", reason="not_json", detail="Expecting value")
>>> d.raw_bytes(), d.rejected_items()
(b'not json', [(None, 'not_json')])
>>> raw = b'{"type":"batch","events":[{"a":1},{"b":2},{"c":3}]}'
>>> b = DeadLetter.of_items(raw=raw, topic="predictions", partition=0, offset=8, items=[
...     ItemReject(0, "wrong_type", "ValidationError", "x: bad"),
...     ItemReject(2, "wrong_type", "ValidationError", "x: bad")])
>>> b.reason, b.rejected, b.rejected_items(), b.items[0].excerpt
('wrong_type', 2, [(0, 'wrong_type'), (2, 'wrong_type')], '{"a":1}')
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_EXCERPT_BYTES",
    "MAX_GROUPS",
    "MAX_RAW_BYTES",
    "REASONS",
    "SCHEMA_VERSION",
    "DeadLetter",
    "ItemReject",
    "RejectedItems",
]

SCHEMA_VERSION = 2
"""Version of the dead-letter record (2: one letter per message, batch items in ``items``)."""
MAX_RAW_BYTES = 256 * 1024
MAX_EXCERPT_BYTES = 1024
"""Longest excerpt of one refused batch item."""
MAX_GROUPS = 64
"""Most item groups with their own detail in one letter; beyond, groups merge per reason."""

REASONS = (
    "not_json",
    "bad_utf8",
    "oversize",
    "unknown_schema_version",
    "unknown_type",
    "invalid",
    "non_finite",
    "out_of_range",
    "missing_field",
    "wrong_type",
    "clock_skew",
    "forged_tick",
    "late",
    "rejected_by_receiver",
)
"""Stable reason codes (counters and alerts use them)."""


@dataclass(frozen=True, slots=True)
class ItemReject:
    """One refused item of a batch envelope (input of :meth:`DeadLetter.of_items`)."""

    index: int | None
    reason: str
    error_class: str
    detail: str


class RejectedItems(BaseModel):
    """Items of one batch refused alike: their indexes and an excerpt of the first one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str
    error_class: str
    detail: str
    indexes: tuple[int, ...]
    excerpt: str = ""


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    reason: str
    error_class: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    raw_b64: str
    raw_size: int = 0
    raw_sha256: str = ""
    raw_truncated: bool = False
    rejected: int = Field(default=1, ge=0, description="events (or items) this letter stands for")
    items: tuple[RejectedItems, ...] = ()
    index_in_batch: int | None = None
    """Schema version 1 only (one letter per refused item)."""

    @classmethod
    def of(
        cls,
        *,
        raw: bytes,
        topic: str,
        partition: int,
        offset: int,
        error_class: str,
        reason: str,
        detail: str,
    ) -> DeadLetter:
        """The letter of a message refused as a whole."""
        return cls(
            reason=reason,
            error_class=error_class,
            detail=detail[:2000],
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            **_raw_fields(raw),
        )

    @classmethod
    def of_items(
        cls,
        *,
        raw: bytes,
        topic: str,
        partition: int,
        offset: int,
        items: Sequence[ItemReject],
        rejected: int | None = None,
    ) -> DeadLetter:
        """One letter for every refused item of one message (a batch envelope): the bytes once.
        ``rejected`` counts the refused events when it differs from ``len(items)``."""
        if not items:
            raise ValueError("of_items needs at least one refused item")
        if len(items) == 1 and items[0].index is None:
            only = items[0]
            letter = cls.of(raw=raw, topic=topic, partition=partition, offset=offset,
                            error_class=only.error_class, reason=only.reason, detail=only.detail)  # fmt: skip
            return letter if rejected is None else letter.model_copy(update={"rejected": rejected})
        groups = _group(items)
        reason, _ = Counter(r.reason for r in items).most_common(1)[0]
        first = next(g for g in groups if g[0][0] == reason)
        excerpts = _excerpts(raw, [g[1][0] for g in groups if g[1]])
        return cls(
            reason=reason,
            error_class=first[0][1],
            detail=f"{len(items)} item(s) of the batch refused; first: {first[0][2]}"[:2000],
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            rejected=len(items) if rejected is None else rejected,
            items=tuple(
                RejectedItems(
                    reason=r,
                    error_class=e,
                    detail=d[:2000],
                    indexes=tuple(ix),
                    excerpt=excerpts.get(ix[0], "") if ix else "",
                )
                for (r, e, d), ix in groups
            ),
            **_raw_fields(raw),
        )

    def raw_bytes(self) -> bytes:
        """The original bytes (their first ``MAX_RAW_BYTES`` when ``raw_truncated``)."""
        return base64.b64decode(self.raw_b64)

    def rejected_items(self) -> list[tuple[int | None, str]]:
        """``(index in batch, reason)`` of every refused item (index None: the whole message)."""
        if not self.items:
            return [(self.index_in_batch, self.reason)]
        out = [(i, g.reason) for g in self.items for i in g.indexes]
        return sorted(out, key=lambda p: -1 if p[0] is None else p[0])


def _raw_fields(raw: bytes) -> dict[str, Any]:
    return {
        "raw_b64": base64.b64encode(raw[:MAX_RAW_BYTES]).decode("ascii"),
        "raw_size": len(raw),
        "raw_sha256": hashlib.sha256(raw).hexdigest(),
        "raw_truncated": len(raw) > MAX_RAW_BYTES,
    }


def _group(items: Sequence[ItemReject]) -> list[tuple[tuple[str, str, str], list[int]]]:
    """Items grouped by (reason, error class, detail), in first-seen order; when more than
    ``MAX_GROUPS`` details differ, the details fold into one group per (reason, error class)."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for it in items:
        index = -1 if it.index is None else it.index
        groups.setdefault((it.reason, it.error_class, it.detail), []).append(index)
    if len(groups) > MAX_GROUPS:
        folded: dict[tuple[str, str, str], list[int]] = {}
        firsts: dict[tuple[str, str], str] = {}
        for (r, e, d), ix in groups.items():
            first = firsts.setdefault((r, e), d)
            folded.setdefault((r, e, f"{first[:500]} (and other details)"), []).extend(ix)
        groups = {k: sorted(v) for k, v in folded.items()}
    return [(k, [i for i in v if i >= 0]) for k, v in groups.items()]


def _excerpts(raw: bytes, indexes: list[int]) -> dict[int, str]:
    """JSON of the batch items at ``indexes`` (each cut to ``MAX_EXCERPT_BYTES``); empty when the
    message does not parse as a batch."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        return {}
    out: dict[int, str] = {}
    for i in indexes:
        if 0 <= i < len(events):
            try:
                text = orjson.dumps(events[i])
            except (TypeError, orjson.JSONEncodeError):
                continue
            out[i] = text[:MAX_EXCERPT_BYTES].decode("utf-8", "ignore")
    return out
