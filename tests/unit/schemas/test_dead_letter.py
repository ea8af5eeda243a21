"""The dead-letter record: one per message, a batch's rejects in O(message) (issue 9, item 4)."""

from __future__ import annotations

import orjson

from glasswatch.schemas.dead_letter import (
    MAX_EXCERPT_BYTES,
    MAX_GROUPS,
    MAX_RAW_BYTES,
    REASONS,
    SCHEMA_VERSION,
    DeadLetter,
    ItemReject,
)


def _batch(n: int, blob: int = 60) -> bytes:
    return orjson.dumps(
        {"type": "batch", "events": [{"type": "prediction", "pad": "x" * blob} for _ in range(n)]}
    )


def test_ten_thousand_rejected_items_cost_less_than_twice_the_message() -> None:
    raw = _batch(10_000)
    assert len(raw) > 850_000 / 2
    items = [
        ItemReject(i, "missing_field", "ValidationError", "model: Field required (3 errors)")
        for i in range(10_000)
    ]
    letter = DeadLetter.of_items(raw=raw, topic="t", partition=0, offset=1, items=items)
    assert len(letter.model_dump_json()) <= 2 * len(raw)
    assert letter.rejected == 10_000 and letter.schema_version == SCHEMA_VERSION == 2
    assert len(letter.items) == 1 and len(letter.items[0].excerpt) <= MAX_EXCERPT_BYTES
    assert orjson.loads(letter.items[0].excerpt)["type"] == "prediction"


def test_distinct_details_are_bounded_and_every_item_is_kept() -> None:
    raw = _batch(5_000, blob=150)  # > MAX_RAW_BYTES: the bytes are truncated, the items are not
    items = [
        ItemReject(i, ("wrong_type", "invalid")[i % 2], "VE", f"features.f{i}: bad " + "d" * 1500)
        for i in range(5_000)
    ]
    letter = DeadLetter.of_items(raw=raw, topic="t", partition=0, offset=1, items=items)
    assert letter.raw_truncated and len(letter.raw_bytes()) == MAX_RAW_BYTES
    assert len(letter.items) <= MAX_GROUPS
    assert sorted(letter.rejected_items()) == [(i, ("wrong_type", "invalid")[i % 2]) for i in range(5_000)]
    assert len(letter.model_dump_json()) < 1_000_000  # fits in one Kafka message


def test_single_messages_and_version_1_letters() -> None:
    one = DeadLetter.of_items(
        raw=b"{", topic="t", partition=2, offset=9, items=[ItemReject(None, "not_json", "E", "d")]
    )
    assert (one.reason, one.items, one.rejected_items()) == ("not_json", (), [(None, "not_json")])
    old = {"schema_version": 1, "reason": "wrong_type", "error_class": "E", "detail": "d",
           "source_topic": "t", "source_partition": 0, "source_offset": 3, "raw_b64": "",
           "index_in_batch": 4}  # fmt: skip
    assert DeadLetter.model_validate(old).rejected_items() == [(4, "wrong_type")]
    assert "forged_tick" in REASONS and "late" in REASONS
