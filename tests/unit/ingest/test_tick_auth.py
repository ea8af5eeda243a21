"""Only the worker's signed ticks move event time; extreme tick times never raise (issue 9, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from glasswatch.ingest.tick_auth import TICK_HEADER, TickAuth, header_value
from glasswatch.ingest.validate import Limits, decode
from glasswatch.schemas.events import Tick

NOW = datetime(2026, 3, 1, tzinfo=UTC)
AUTH = TickAuth(b"q" * 32)


def _check(topic: str, partition: int, headers: object) -> object:
    return lambda t: AUTH.verify(topic, partition, t.event_time, headers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "2026-03-01T00:00:00.000001-23:59",
    ],
)
def test_extreme_tick_times_are_refused_not_raised(when: str) -> None:
    raw = orjson.dumps({"type": "tick", "event_time": when})
    t = Tick.model_validate_json(raw).event_time
    headers = [(TICK_HEADER, AUTH.sign("p", 0, t))]
    signed = decode(raw, now=NOW, tick_check=_check("p", 0, headers))  # type: ignore[arg-type]
    assert not signed.ticks and [r.reason for r in signed.rejects] == ["clock_skew"]
    unsigned = decode(raw, now=NOW, tick_check=_check("p", 0, None))  # type: ignore[arg-type]
    assert [r.reason for r in unsigned.rejects] == ["forged_tick"]
    trusted = decode(raw, now=NOW, limits=Limits(max_clock_skew_s=1e300, max_age_s=1e300))
    assert trusted.rejects or trusted.ticks  # no skew limit (a replay): still no exception


def test_a_signed_tick_within_the_limits_passes() -> None:
    t = NOW + timedelta(minutes=5)
    raw = Tick(event_time=t.astimezone(timezone(timedelta(hours=-14)))).model_dump_json().encode()
    headers = {TICK_HEADER: AUTH.sign("p", 3, t)}  # the signature does not depend on the offset
    assert decode(raw, now=NOW, tick_check=_check("p", 3, headers)).ticks == [t]  # type: ignore[arg-type]
    assert decode(raw, now=NOW, tick_check=_check("p", 4, headers)).rejects[0].reason == "forged_tick"  # type: ignore[arg-type]


def test_header_value_reads_lists_and_mappings() -> None:
    assert header_value([("a", b"1"), (TICK_HEADER, b"2")], TICK_HEADER) == b"2"
    assert header_value({TICK_HEADER: b"3"}, TICK_HEADER) == b"3"
    assert header_value([("x",), None, (TICK_HEADER, 5)], TICK_HEADER) is None  # type: ignore[list-item]
    assert header_value(None, TICK_HEADER) is None
