from __future__ import annotations

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
                    rng.choice(["age", "new", "bad name!"]): rng.choice(values),
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
