"""The cheap checks of the decode fast path (issue 14) give the verdicts of the exact ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from glasswatch.ingest.duplicate_keys import _WHITESPACE, no_duplicate_keys
from glasswatch.ingest.validate import Decoded, Limits, _admit, _clearly_inside, decode
from glasswatch.schemas import PredictionEvent

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_clock_skew_s=3600, max_age_s=7 * 86400)


def _event(t: str, i: int = 0) -> dict[str, object]:
    return {"type": "prediction", "model": "m", "model_version": "1", "prediction_id": f"p{i}",
            "event_time": t, "features": {"x": 1.0}}  # fmt: skip


def _exact(raw: bytes, keys: int) -> bool:
    return raw.translate(None, _WHITESPACE).count(b'":') == keys


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        (b'{"a":1,"b":{"c":2}}', 3),
        (b'{"a":1,"a":2}', 1),
        (b'{"a":1, "a" :2}', 1),  # whitespace before a colon: the exact count is taken
        (b'{"a":"x\\" :","b":1}', 2),
        (b'{"a":"t t","b":1}', 2),
        (b'{"a":\n1,"b"\t:2}', 2),
    ],
)
def test_no_duplicate_keys_agrees_with_the_whitespace_free_count(raw: bytes, keys: int) -> None:
    assert no_duplicate_keys(raw, keys) == _exact(raw, keys)


@given(st.dictionaries(st.text(max_size=4), st.text(max_size=6), max_size=5), st.booleans())
def test_no_duplicate_keys_never_proves_a_repeated_key_absent(doc: dict[str, str], spaced: bool) -> None:
    raw = orjson.dumps(doc)
    if spaced:
        raw = raw.replace(b'":', b'" :')
    assert no_duplicate_keys(raw, len(doc)) == _exact(raw, len(doc))
    if doc:  # the first key again, in front
        k = next(iter(doc))
        dup = b"{" + orjson.dumps(k) + (b" :" if spaced else b":") + b'"v",' + raw[1:]
        assert not no_duplicate_keys(dup, len(doc))


@pytest.mark.parametrize("offset", ["Z", "+00:00", "+05:30", "-11:00"])
@pytest.mark.parametrize(
    "delta",
    [
        timedelta(seconds=3600),
        timedelta(seconds=3600, microseconds=1),
        timedelta(seconds=3599, microseconds=999_999),
        timedelta(days=-7),
        timedelta(days=-7, microseconds=-1),
        timedelta(days=-7, microseconds=1),
        timedelta(0),
    ],
)
def test_the_skew_window_is_judged_as_before_at_its_edges(offset: str, delta: timedelta) -> None:
    t = NOW + delta
    hours, minutes = (0, 0) if offset in ("Z", "+00:00") else (int(offset[:3]), int(offset[4:]))
    tz = timezone(timedelta(hours=hours, minutes=minutes if hours >= 0 else -minutes))
    text = t.astimezone(tz).isoformat().replace("+00:00", offset)
    batch = orjson.dumps({"type": "batch", "events": [_event(text, i) for i in range(3)]})
    got = decode(batch, now=NOW, limits=LIMITS)
    expected = Decoded()
    for i, e in enumerate(PredictionEvent.model_validate(_event(text, i)) for i in range(3)):
        _admit(e, i, NOW, LIMITS, expected)
    assert got.events == expected.events
    assert [(r.reason, r.index) for r in got.rejects] == [(r.reason, r.index) for r in expected.rejects]
    assert bool(got.events) == (-7 * 86400 <= delta.total_seconds() <= 3600)


def test_limits_that_do_not_fit_a_datetime_fall_back_to_the_exact_check() -> None:
    zone = datetime.fromisoformat("2026-01-01T00:00:00+00:00").tzinfo
    for limits in (Limits(max_clock_skew_s=1e300, max_age_s=1e300), Limits(max_age_s=float("nan"))):
        assert _clearly_inside(NOW, limits, zone) == (NOW, NOW)
    raw = orjson.dumps(_event("2026-03-01T12:00:00Z"))
    assert len(decode(raw, now=NOW, limits=Limits(max_clock_skew_s=1e300, max_age_s=1e300)).events) == 1
    with pytest.raises(TypeError):  # a naive clock is a caller's bug, on either path
        decode(raw, now=NOW.replace(tzinfo=None))
