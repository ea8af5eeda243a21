from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from glasswatch.schemas import Coord, OffsetRange, partition_key
from glasswatch.schemas.alert import Lineage


def test_coord_is_a_cheap_immutable_value_with_a_partition_key() -> None:
    c = Coord("predictions", 2, 17)
    assert (c.topic, c.partition, c.offset) == ("predictions", 2, 17)
    assert c.key == "predictions:2" == partition_key("predictions", 2)
    assert c == Coord(topic="predictions", partition=2, offset=17)
    assert len({c, Coord("predictions", 2, 17), Coord("predictions", 2, 18)}) == 2
    assert pickle.loads(pickle.dumps(c)) == c
    assert sorted([Coord("t", 1, 0), Coord("t", 0, 5), Coord("t", 0, 1)]) == [
        Coord("t", 0, 1),
        Coord("t", 0, 5),
        Coord("t", 1, 0),
    ]
    with pytest.raises(AttributeError):
        c.offset = 3  # type: ignore[misc]


def test_offset_range_is_built_from_coords_and_shares_their_key() -> None:
    first = Coord("alerts", 1, 40)
    r = OffsetRange.of(first, last=45)
    assert (r.topic, r.partition, r.first, r.last) == ("alerts", 1, 40, 45)
    assert r.key == first.key == "alerts:1"
    assert r.start == first
    assert r.end == Coord("alerts", 1, 45)


def test_offset_range_json_contract_is_unchanged() -> None:
    raw = '{"topic":"p","partition":0,"first":3,"last":9}'
    r = OffsetRange.model_validate_json(raw)
    assert r.model_dump_json() == raw
    lineage = Lineage.model_validate_json('{"offsets": [' + raw + "]}")
    assert lineage.offsets == (r,)
    with pytest.raises(ValidationError):
        OffsetRange(topic="p", partition=-1, first=0, last=0)
    with pytest.raises(ValidationError):
        OffsetRange.model_validate_json('{"topic":"p","partition":0,"first":3,"last":9,"extra":1}')
