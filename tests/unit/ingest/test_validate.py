from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from glasswatch.ingest.validate import Limits, decode
from glasswatch.schemas import FeatureEvent, LabelEvent, PredictionEvent
from glasswatch.testing.traffic import MALFORMED_KINDS, TrafficGenerator

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _gen() -> TrafficGenerator:
    return TrafficGenerator(model="m", seed=3, start=NOW - timedelta(minutes=10))


def test_good_events_of_every_type_decode_to_typed_events() -> None:
    gen = _gen()
    pred = gen.event(0)
    feat = {
        "type": "feature",
        "model": "m",
        "prediction_id": "p",
        "event_time": "2026-03-01T11:00:00Z",
        "features": {"a": 1, "b": None, "c": "x", "d": True},
    }
    label = {
        "type": "label",
        "model": "m",
        "prediction_id": "p",
        "event_time": "2026-03-01T11:00:00+00:00",
        "label": 1,
    }
    types = [type(decode(orjson.dumps(doc), now=NOW).events[0]) for doc in (pred, feat, label)]
    assert types == [PredictionEvent, FeatureEvent, LabelEvent]


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_kind_is_rejected_with_its_own_reason(kind: str) -> None:
    payloads = dict(_gen().malformed(len(MALFORMED_KINDS), max_bytes=4096))
    result = decode(payloads[kind], now=NOW, limits=Limits(max_message_bytes=4096))
    assert result.events == []
    assert [r.reason for r in result.rejects] == [kind]
    assert result.rejects[0].detail  # a readable explanation, not empty


def test_batch_items_are_judged_one_by_one() -> None:
    gen = _gen()
    good = [gen.event(i) for i in range(3)]
    bad = dict(good[1])
    bad["features"] = {"age": float("inf")}
    envelope = {"schema_version": 1, "type": "batch", "events": [good[0], {"type": "label"}, good[2], 7]}
    result = decode(orjson.dumps(envelope), now=NOW)
    assert [e.prediction_id for e in result.events] == [good[0]["prediction_id"], good[2]["prediction_id"]]
    assert [(r.reason, r.index) for r in result.rejects] == [("missing_field", 1), ("wrong_type", 3)]


def test_non_finite_inside_a_batch_item_is_named() -> None:
    raw = orjson.dumps({"type": "batch", "events": [_gen().event(0)]}).replace(
        b'"age":', b'"age":NaN,"x":', 1
    )
    result = decode(raw, now=NOW)
    assert [r.reason for r in result.rejects] == ["non_finite"]


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(timedelta(hours=2), "clock_skew"), (timedelta(days=-8), "clock_skew"), (timedelta(minutes=30), None)],
)
def test_timestamps_outside_the_configured_skew_are_refused(offset: timedelta, reason: str | None) -> None:
    doc = _gen().event(0)
    doc["event_time"] = (NOW + offset).isoformat()
    result = decode(orjson.dumps(doc), now=NOW, limits=Limits(max_clock_skew_s=3600, max_age_s=7 * 86400))
    assert [r.reason for r in result.rejects] == ([reason] if reason else [])


def test_naive_timestamps_strings_for_numbers_and_extra_fields_are_refused() -> None:
    base = _gen().event(0)
    cases = {
        "naive time": {**base, "event_time": "2026-03-01T11:00:00"},
        "number for an id": {**base, "prediction_id": 41},
        "list as a feature": {**base, "features": {"age": [41]}},
        "probability above 1": {**base, "probabilities": {"1": 1.5}},
        "extra field": {**base, "surprise": 1},
        "bool as version": {**base, "schema_version": True},
    }
    for name, doc in cases.items():
        result = decode(orjson.dumps(doc), now=NOW)
        assert result.events == [], name
        assert len(result.rejects) == 1, name


def test_anything_at_all_never_raises() -> None:
    for raw in [
        None,
        b"",
        b"[]",
        b"null",
        b"1",
        b'"x"',
        b"{",
        b"\x00" * 10,
        b'{"type":"batch","events":[]}',
        b'{"type":"batch","events":[{"type":"batch","events":[]}]}',
    ]:
        result = decode(raw, now=NOW)
        assert result.rejects and not result.events, raw


def test_fast_path_and_careful_path_agree_on_seeded_mutations(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pass fast path may only accept what the item-by-item path accepts."""
    import random

    from glasswatch.ingest import validate

    rng = random.Random(2026)
    gen = _gen()
    values: list[object] = [None, True, 1, -1.5, "x", "", [], {}, 1e308, "2026-03-01T11:00:00Z", "y" * 2000]
    fields = [
        "schema_version",
        "type",
        "model",
        "model_version",
        "prediction_id",
        "event_time",
        "features",
        "prediction",
        "probabilities",
        "latency_ms",
        "tags",
        "extra",
    ]
    payloads: list[bytes] = []
    for i in range(600):
        doc = gen.event(i)
        for _ in range(rng.randint(0, 2)):
            field = rng.choice(fields)
            if rng.random() < 0.25:
                doc.pop(field, None)
            elif field == "features" and rng.random() < 0.5:
                doc["features"] = {
                    **doc["features"],
                    rng.choice(["age", "new", "mean radius", "bad\tname!"]): rng.choice(values),
                }
            else:
                doc[field] = rng.choice(values)
        if rng.random() < 0.3:
            payloads.append(orjson.dumps({"type": "batch", "events": [gen.event(i + 10_000), doc]}))
        else:
            payloads.append(orjson.dumps(doc))
    fast = [decode(p, now=NOW) for p in payloads]
    monkeypatch.setattr(validate, "_fast_path", lambda raw: None)
    careful = [decode(p, now=NOW) for p in payloads]
    accepted = 0
    for p, a, b in zip(payloads, fast, careful, strict=True):
        assert a.events == b.events, p
        assert [(r.reason, r.index) for r in a.rejects] == [(r.reason, r.index) for r in b.rejects], p
        accepted += len(a.events)
    assert 0 < accepted < 2 * len(payloads)  # the mutations produced both outcomes


# -- issue 9: numbers out of range, reasons for hostile input, duplicate keys -------------------


def _doc(**patch: object) -> dict[str, object]:
    return {**_gen().event(0), **patch}


HUGE_INT = b"1" + b"0" * 400


@pytest.mark.parametrize("field", [b'"age":', b'"prediction":', b'"latency_ms":'])
def test_a_400_digit_integer_is_out_of_range_not_a_crash(field: bytes) -> None:
    raw = orjson.dumps(_doc()).replace(field, field + HUGE_INT + b',"x":', 1)
    raw = raw.replace(b',"x":', b',"x_":', 1)  # the old value stays under another name
    result = decode(raw, now=NOW)
    assert result.events == []
    assert [r.reason for r in result.rejects] == ["out_of_range"]


def test_out_of_range_items_of_a_batch_are_refused_one_by_one() -> None:
    gen = _gen()
    items = [orjson.dumps(gen.event(i)) for i in range(4)]
    items[2] = items[2].replace(b'"prediction":', b'"prediction":' + HUGE_INT + b',"p_":', 1)
    items[3] = items[3].replace(b'"prediction":', b'"prediction":1e101,"p_":', 1)
    raw = b'{"type":"batch","events":[' + b",".join(items) + b"]}"
    result = decode(raw, now=NOW)
    assert len(result.events) == 2
    assert [(r.reason, r.index) for r in result.rejects] == [("out_of_range", 2), ("out_of_range", 3)]


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"prediction": 1e100}, None),
        ({"prediction": -1e100}, None),
        ({"features": {"age": 10**100}}, None),
        ({"features": {"age": 5e-324}}, None),
        ({"prediction": 1.0000000000000002e100}, "out_of_range"),
        ({"features": {"age": -1e200}}, "out_of_range"),
        ({"features": {"age": 10**101}}, "out_of_range"),
        ({"label": 1e300, "type": "label"}, "out_of_range"),
        ({"latency_ms": -5}, "out_of_range"),
        ({"latency_ms": 1e101}, "out_of_range"),
        ({"probabilities": {"1": 1.5}}, "out_of_range"),
        ({"probabilities": {"1": -0.1}}, "out_of_range"),
    ],
)
def test_numbers_have_a_documented_range(patch: dict[str, object], reason: str | None) -> None:
    doc = _doc(**patch)
    if doc["type"] == "label":
        doc = {k: doc[k] for k in ("type", "model", "prediction_id", "event_time", "label")}
    result = decode(json.dumps(doc).encode(), now=NOW)
    assert [r.reason for r in result.rejects] == ([reason] if reason else [])
    assert len(result.events) == (0 if reason else 1)


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400", HUGE_INT])
def test_a_number_beyond_float64_is_out_of_range_not_non_finite(literal: bytes) -> None:
    raw = orjson.dumps(_doc()).replace(b'"prediction":', b'"prediction":' + literal + b',"p_":', 1)
    assert [r.reason for r in decode(raw, now=NOW).rejects] == ["out_of_range"]


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_100k_deep_nesting_is_invalid_without_recursion(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    raw = (opener * 100_000 + ("1" if opener != "[" else "") + closer * 100_000).encode()
    result = decode(raw, now=NOW)
    assert [(r.reason, r.error_class) for r in result.rejects] == [("invalid", "NestingTooDeep")]
    assert "1024" in result.rejects[0].detail


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udc00", b"x\\ud800y", b"\\ud800\\ud800"])
def test_a_lone_surrogate_is_bad_utf8_not_non_finite(escape: bytes) -> None:
    raw = orjson.dumps(_doc()).replace(b'"simulate"', b'"' + escape + b'"', 1)
    result = decode(raw, now=NOW)
    assert [(r.reason, r.error_class) for r in result.rejects] == [("bad_utf8", "LoneSurrogate")]


def test_a_surrogate_pair_and_an_escaped_backslash_are_fine() -> None:
    for text in (b"\\ud83d\\ude00", b"\\\\ud800"):
        raw = orjson.dumps(_doc()).replace(b'"simulate"', b'"' + text + b'"', 1)
        assert len(decode(raw, now=NOW).events) == 1, text


def test_nan_in_a_string_does_not_hide_the_real_reason() -> None:
    raw = orjson.dumps(_doc(tags={"a": "NaN", "b": "Infinity", "c": "S"})).replace(b'"S"', b'"\\ud800"')
    assert [r.reason for r in decode(raw, now=NOW).rejects] == ["bad_utf8"]
    nan = orjson.dumps(_doc()).replace(b'"prediction":', b'"prediction":NaN,"p_":', 1)
    assert [r.reason for r in decode(nan, now=NOW).rejects] == ["non_finite"]


@pytest.mark.parametrize(
    "value",
    [1772366400, 1772366400.5, "1772366400", "2026-03-01 11:00:00Z", "2026-03-01T11:00Z", "2026-03-01"],
)
def test_event_time_must_be_an_iso_8601_string_with_an_offset(value: object) -> None:
    result = decode(orjson.dumps(_doc(event_time=value)), now=NOW)
    assert result.events == []
    assert [r.reason for r in result.rejects] == ["wrong_type"]


def test_event_time_forms_that_are_accepted() -> None:
    for value in ("2026-03-01T11:00:00Z", "2026-03-01T13:00:00.123456789+02:00", "2026-03-01t11:00:00z"):
        assert len(decode(orjson.dumps(_doc(event_time=value)), now=NOW).events) == 1, value
    built = PredictionEvent(model="m", model_version="1", prediction_id="p", event_time=NOW)
    assert built.event_time == NOW
    with pytest.raises(ValueError, match="aware"):
        PredictionEvent(model="m", model_version="1", prediction_id="p", event_time=NOW.replace(tzinfo=None))


DUPLICATES = {
    "top level": b'{"model":"other",',
    "same value": b'{"model":"m",',
    "type": b'{"type":"label",',
    "escaped spelling": b'{"\\u006dodel":"other",',
}


@pytest.mark.parametrize("prefix", list(DUPLICATES.values()), ids=list(DUPLICATES))
def test_duplicate_keys_are_refused(prefix: bytes) -> None:
    raw = prefix + orjson.dumps(_doc())[1:]
    result = decode(raw, now=NOW)
    assert result.events == []
    assert [(r.reason, r.error_class) for r in result.rejects] == [("invalid", "DuplicateKey")]


def test_a_duplicate_feature_refuses_only_its_batch_item() -> None:
    gen = _gen()
    items = [orjson.dumps(gen.event(i)) for i in range(3)]
    items[1] = items[1].replace(b'"features":{', b'"features":{"age":1,', 1)
    result = decode(b'{"type":"batch","events":[' + b",".join(items) + b"]}", now=NOW)
    assert len(result.events) == 2
    assert [(r.reason, r.error_class, r.index) for r in result.rejects] == [("invalid", "DuplicateKey", 1)]
    assert "features.age" in result.rejects[0].detail


def test_pretty_printed_json_is_not_mistaken_for_duplicates() -> None:
    doc = _doc(tags={"note": 'a ": b', "url": "http://x:80/"})
    for raw in (json.dumps(doc, indent=2).encode(), json.dumps(doc, separators=(" , ", " : ")).encode()):
        assert len(decode(raw, now=NOW).events) == 1
    dup = json.dumps(doc, separators=(", ", " : ")).replace(
        '{"schema_version"', '{"model" : "x", "schema_version"'
    )
    assert [r.error_class for r in decode(dup.encode(), now=NOW).rejects] == ["DuplicateKey"]


def test_a_batch_without_type_or_with_an_extra_field_is_refused_on_both_paths() -> None:
    events = [_gen().event(0)]
    for doc in ({"events": events}, {"type": "batch", "events": events, "surprise": 1}):
        result = decode(orjson.dumps(doc), now=NOW)
        assert result.events == [] and len(result.rejects) == 1, doc


HOSTILE = {
    "backslashes then u": b'{"a":"' + b"\\" * 880_000 + b'u"',
    "digit runs of 299": b"[" + (b"1" * 299 + b",") * 2_900,
    "digits then e": b'{"a":' + b"1" * 880_000 + b"e}",
    "escaped quotes, unterminated": b'{"a":"' + b'\\"' * 440_000,
    "quotes": b'{"a":' + b'"' * 880_000 + b"}",
    "NaN list": b'{"a":[' + b"NaN," * 220_000 + b"1]}",
    "brackets": b"[{" * 440_000,
}


@pytest.mark.parametrize("raw", list(HOSTILE.values()), ids=list(HOSTILE))
def test_the_careful_path_is_linear_on_hostile_text(raw: bytes) -> None:
    """Each reason-finding pattern is linear: 900 kB of worst case in well under a second (a
    backtracking pattern took 73 s on 80 kB of backslashes)."""
    import time

    began = time.perf_counter()
    result = decode(raw, now=NOW)
    assert time.perf_counter() - began < 5.0
    assert len(result.rejects) == 1 and not result.events
