"""Property tests of ``decode()``: it never raises, and it accounts for every item exactly once.

Invariant, for any bytes at all and for structured near-valid messages: the message is either
accepted (events), or refused with reasons from :data:`~glasswatch.schemas.dead_letter.REASONS`;
inside a batch each item is an event or one reject carrying its index, never both, never lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasswatch.ingest.scan import MAX_DEPTH
from glasswatch.ingest.validate import Decoded, decode
from glasswatch.testing.fuzz import violations
from glasswatch.testing.traffic import TrafficGenerator

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
GEN = TrafficGenerator(model="m", seed=9, start=NOW - timedelta(minutes=5))
SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _check(raw: bytes) -> Decoded:
    result = decode(raw, now=NOW)  # raising fails the property
    assert violations(raw, result) == [], (raw[:200], result)
    return result


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**120), max_value=10**120),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@SETTINGS
@given(raw=st.binary(max_size=2_000))
def test_any_bytes(raw: bytes) -> None:
    result = _check(raw)
    assert result.rejects or result.events or result.ticks


@SETTINGS
@given(doc=JSON_VALUES)
def test_any_json_value(doc: Any) -> None:
    _check(json.dumps(doc).encode())


FIELDS = ["schema_version", "type", "model", "model_version", "prediction_id", "event_time", "features"]
FIELDS += ["prediction", "probabilities", "latency_ms", "tags", "label", "extra"]


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    doc = GEN.event(draw(st.integers(0, 10_000)))
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS))
        if draw(st.booleans()):
            doc.pop(field, None)
        elif field == "features":
            old = doc["features"] if isinstance(doc.get("features"), dict) else {}
            doc["features"] = {
                **old,
                draw(st.sampled_from(["age", "new", "mean radius", " bad name"])): draw(JSON_VALUES),
            }
        else:
            doc[field] = draw(JSON_VALUES)
    return doc


@SETTINGS
@given(doc=near_valid_events())
def test_near_valid_events(doc: dict[str, Any]) -> None:
    _check(json.dumps(doc).encode())


@SETTINGS
@given(
    items=st.lists(st.one_of(near_valid_events(), JSON_VALUES), min_size=1, max_size=12), pretty=st.booleans()
)
def test_every_batch_item_is_accounted_for_once(items: list[Any], pretty: bool) -> None:
    raw = json.dumps({"type": "batch", "events": items}, indent=1 if pretty else None).encode()
    result = _check(raw)
    indexed = sorted(r.index for r in result.rejects if r.index is not None)
    if len(indexed) == len(result.rejects):  # judged item by item
        assert len(result.events) + len(indexed) == len(items)
        assert indexed == sorted(set(indexed))


@SETTINGS
@given(
    doc=st.integers(0, 10_000).map(GEN.event),
    key=st.sampled_from(["model", "event_time", "type", "prediction_id", "features", "tags"]),
)
def test_a_repeated_key_is_refused_whatever_its_value(doc: dict[str, Any], key: str) -> None:
    raw = orjson.dumps(doc)
    dup = b"{" + orjson.dumps(key) + b":" + orjson.dumps(doc[key]) + b"," + raw[1:]  # even the same value
    result = _check(dup)
    assert result.events == []
    assert [(r.reason, r.error_class) for r in result.rejects] == [("invalid", "DuplicateKey")]


@SETTINGS
@given(depth=st.integers(MAX_DEPTH - 3, 100_000), opener=st.sampled_from(["[", '{"a":']))
def test_deep_nesting_is_refused_without_recursion(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    raw = (opener * depth + ("" if opener == "[" else "1") + closer * depth).encode()
    result = _check(raw)
    assert len(result.rejects) == 1 and not result.events
    shallow = "wrong_type" if opener == "[" else "unknown_type"  # a list; an object without "type"
    assert result.rejects[0].reason == ("invalid" if depth > MAX_DEPTH else shallow)
