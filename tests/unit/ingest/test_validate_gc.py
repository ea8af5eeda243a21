"""``decode`` pauses the cyclic collector per message (issue 14) and always restores it."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest

from glasswatch.ingest import validate
from glasswatch.ingest.validate import decode

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
OK = (
    b'{"type":"batch","events":[{"type":"prediction","model":"m","model_version":"1",'
    b'"prediction_id":"p1","event_time":"2026-01-01T11:59:00Z","features":{"x":1.5}}]}'
)


@pytest.mark.parametrize("raw", [OK, b'{"type":"prediction"', b"\xff", None, b"[1, 2]"])
def test_the_collector_is_paused_during_decode_and_restored(raw: bytes | None) -> None:
    seen: list[bool] = []
    real = validate._fast_path

    def spy(data: bytes) -> object:
        seen.append(gc.isenabled())
        return real(data)

    assert gc.isenabled()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate, "_fast_path", spy)
        decode(raw, now=NOW)
    assert gc.isenabled()
    assert seen in ([], [False])


def test_restored_when_decoding_raises() -> None:
    def boom(data: bytes) -> object:
        raise RuntimeError("bug")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate, "_fast_path", boom)
        with pytest.raises(RuntimeError):
            decode(OK, now=NOW)
    assert gc.isenabled()


def test_a_caller_that_paused_the_collector_keeps_it_paused() -> None:
    gc.disable()
    try:
        assert [type(e).__name__ for e in decode(OK, now=NOW).events] == ["PredictionEvent"]
        assert not gc.isenabled()
    finally:
        gc.enable()
