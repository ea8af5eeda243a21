"""The dead-letter contract: a message glasswatch could not accept, with why and where from.

The original bytes are kept (base64) so nothing is lost: fix the producer, then replay. A raw
value larger than ``MAX_RAW_BYTES`` (an ``oversize`` message cannot fit in a Kafka message once
base64-encoded) keeps its first ``MAX_RAW_BYTES`` bytes, its size and sha256; the whole value
stays readable at its source coordinates for the input topic's retention.

Examples
--------
>>> d = DeadLetter.of(raw=b"not json", topic="predictions", partition=0, offset=7,
...                   error_class="ValidationError", reason="not_json", detail="Expecting value")
>>> d.raw_bytes()
b'not json'
"""

from __future__ import annotations

import base64
import hashlib

from pydantic import BaseModel, ConfigDict

__all__ = ["MAX_RAW_BYTES", "REASONS", "DeadLetter"]

MAX_RAW_BYTES = 256 * 1024

REASONS = (
    "not_json",
    "bad_utf8",
    "oversize",
    "unknown_schema_version",
    "unknown_type",
    "invalid",
    "non_finite",
    "missing_field",
    "wrong_type",
    "clock_skew",
    "late",
    "rejected_by_receiver",
)
"""Stable reason codes (counters and alerts use them)."""


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
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
    index_in_batch: int | None = None

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
        index_in_batch: int | None = None,
    ) -> DeadLetter:
        return cls(
            reason=reason,
            error_class=error_class,
            detail=detail[:2000],
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            raw_b64=base64.b64encode(raw[:MAX_RAW_BYTES]).decode("ascii"),
            raw_size=len(raw),
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            raw_truncated=len(raw) > MAX_RAW_BYTES,
            index_in_batch=index_in_batch,
        )

    def raw_bytes(self) -> bytes:
        """The original bytes (their first ``MAX_RAW_BYTES`` when ``raw_truncated``)."""
        return base64.b64decode(self.raw_b64)
