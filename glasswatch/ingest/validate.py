"""Bytes → typed events, or a readable reason why not. Never raises on any input.

The ingest agent hands every raw Kafka value to :func:`decode`. One message may hold one event
or a :class:`~glasswatch.schemas.BatchEnvelope`; inside a batch each item is judged on its own,
so one bad item does not sink its neighbours. Time is passed in (``now``): no wall clock here.

Examples
--------
>>> from datetime import datetime, timezone
>>> now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
>>> ok = (b'{"type":"prediction","model":"m","model_version":"1","prediction_id":"p1",'
...       b'"event_time":"2026-01-01T11:59:00Z","features":{"x":1.5}}')
>>> result = decode(ok, now=now)
>>> [type(e).__name__ for e in result.events], result.rejects
(['PredictionEvent'], [])
>>> bad = decode(b'{"type":"prediction","model":"m"', now=now)
>>> [(r.reason, r.index) for r in bad.rejects]
[('not_json', None)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from glasswatch.schemas.events import (
    MAX_BATCH,
    SCHEMA_VERSION,
    BatchEnvelope,
    Event,
    FeatureEvent,
    LabelEvent,
    PredictionEvent,
    Tick,
)

__all__ = ["KNOWN_TYPES", "Decoded", "Limits", "Reject", "decode"]

KNOWN_TYPES = ("prediction", "feature", "label", "batch", "tick")
_EVENT = TypeAdapter(Event)
TypedEvent = PredictionEvent | FeatureEvent | LabelEvent


@dataclass(frozen=True, slots=True)
class Limits:
    """Validation limits (from :class:`glasswatch.settings.ValidationSettings`)."""

    max_message_bytes: int = 900_000
    max_clock_skew_s: float = 3600.0
    max_age_s: float = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a message (or one item of a batch, ``index``) was refused."""

    reason: str
    error_class: str
    detail: str
    index: int | None = None


@dataclass(slots=True)
class Decoded:
    events: list[TypedEvent] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    ticks: list[datetime] = field(default_factory=list)
    """Event times of control ticks (:class:`~glasswatch.schemas.events.Tick`), not events."""


_DEFAULT_LIMITS = Limits()


def decode(raw: bytes | None, *, now: datetime, limits: Limits = _DEFAULT_LIMITS) -> Decoded:
    """Decode and validate one Kafka message value."""
    out = Decoded()
    if raw is None:
        out.rejects.append(Reject("invalid", "EmptyMessage", "message has no value (tombstone)"))
        return out
    if len(raw) > limits.max_message_bytes:
        detail = f"{len(raw)} bytes > limit {limits.max_message_bytes}"
        out.rejects.append(Reject("oversize", "OversizeMessage", detail))
        return out
    fast = _fast_path(raw)
    if fast is not None:
        for i, event in enumerate(fast.events):
            _admit(event, i if fast.batched else None, now, limits, out)
        return out
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        out.rejects.append(_classify_unparsable(raw, exc))
        return out
    if not isinstance(doc, dict):
        out.rejects.append(Reject("wrong_type", "NotAnObject", f"top level is {type(doc).__name__}"))
        return out
    header = _check_header(doc)
    if header is not None:
        out.rejects.append(header)
        return out
    if doc["type"] == "tick":
        try:
            out.ticks.append(Tick.model_validate(doc).event_time)
        except PydanticValidationError as exc:
            out.rejects.append(_from_pydantic(exc, None))
        return out
    if doc["type"] == "batch":
        items = doc.get("events")
        if not isinstance(items, list) or not items:
            out.rejects.append(Reject("invalid", "BadBatch", "batch needs a non-empty list 'events'"))
            return out
        if len(items) > MAX_BATCH:
            out.rejects.append(Reject("oversize", "OversizeBatch", f"{len(items)} events > {MAX_BATCH}"))
            return out
        for i, item in enumerate(items):
            _one(item, i, now, limits, out)
        return out
    _one(doc, None, now, limits, out)
    return out


@dataclass(frozen=True, slots=True)
class _Fast:
    events: list[TypedEvent]
    batched: bool


def _fast_path(raw: bytes) -> _Fast | None:
    """Parse and validate in one pass (pydantic-core, in Rust) when the whole message is valid.

    Returns None on any failure; the careful path then finds the reason and judges batch items
    one by one. The careful path stays the reference: the tests run both on every malformed kind.
    """
    if raw[:1] != b"{":
        return None
    try:
        if b'"events"' in raw:  # a batch envelope (or, rarely, a feature named "events": falls back)
            batch = BatchEnvelope.model_validate_json(raw)
            return _Fast(list(batch.events), batched=True)
        return _Fast([_EVENT.validate_json(raw)], batched=False)
    except (PydanticValidationError, ValueError):
        return None


def _classify_unparsable(raw: bytes, exc: Exception) -> Reject:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return Reject("bad_utf8", "UnicodeDecodeError", str(uexc))
    try:  # the stdlib parser accepts NaN/Infinity literals; orjson does not
        json.loads(text)
    except ValueError:
        return Reject("not_json", "JSONDecodeError", str(exc))
    return Reject("non_finite", "NonFiniteNumber", "NaN or Infinity is not a valid JSON number")


def _check_header(doc: dict[str, Any], index: int | None = None) -> Reject | None:
    version = doc.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        return Reject(
            "unknown_schema_version",
            "UnknownSchemaVersion",
            f"schema_version {version!r} is not supported (this worker knows {SCHEMA_VERSION})",
            index,
        )
    kind = doc.get("type")
    if kind not in KNOWN_TYPES:
        return Reject("unknown_type", "UnknownType", f"type {kind!r} is not one of {KNOWN_TYPES}", index)
    return None


def _one(item: Any, index: int | None, now: datetime, limits: Limits, out: Decoded) -> None:
    if not isinstance(item, dict):
        out.rejects.append(Reject("wrong_type", "NotAnObject", f"item is {type(item).__name__}", index))
        return
    if index is not None:
        header = _check_header(item, index)
        if header is not None:
            out.rejects.append(header)
            return
        if item.get("type") in ("batch", "tick"):
            out.rejects.append(
                Reject("invalid", "NotAnEvent", f"a batch cannot hold a {item['type']}", index)
            )
            return
    try:
        event: TypedEvent = _EVENT.validate_python(item)
    except PydanticValidationError as exc:
        out.rejects.append(_from_pydantic(exc, index))
        return
    _admit(event, index, now, limits, out)


def _admit(event: TypedEvent, index: int | None, now: datetime, limits: Limits, out: Decoded) -> None:
    skew = (event.event_time - now).total_seconds()
    if skew > limits.max_clock_skew_s or -skew > limits.max_age_s:
        detail = (
            f"event_time {event.event_time.isoformat()} is {skew:+.0f}s from the worker clock "
            f"(allowed: {limits.max_clock_skew_s:.0f}s ahead, {limits.max_age_s:.0f}s behind)"
        )
        out.rejects.append(Reject("clock_skew", "ClockSkew", detail, index))
        return
    out.events.append(event)


def _from_pydantic(exc: PydanticValidationError, index: int | None) -> Reject:
    errors = exc.errors(include_url=False, include_input=False)
    kinds = {str(e["type"]) for e in errors}
    if "finite_number" in kinds:
        reason = "non_finite"
    elif "missing" in kinds:
        reason = "missing_field"
    elif kinds & {"too_long", "string_too_long"}:
        reason = "oversize"
    elif any(k.endswith("_type") or k == "literal_error" or k.endswith("_parsing") for k in kinds):
        reason = "wrong_type"
    else:
        reason = "invalid"
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"])
    return Reject(reason, "ValidationError", f"{where}: {first['msg']} ({exc.error_count()} errors)", index)


def skew_window(limits: Limits) -> tuple[timedelta, timedelta]:
    """The accepted event-time window around ``now`` as (behind, ahead)."""
    return timedelta(seconds=limits.max_age_s), timedelta(seconds=limits.max_clock_skew_s)
