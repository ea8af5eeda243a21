"""The baseline-accept contract refuses what a hostile writer of its topic could put there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from glasswatch.schemas import baseline_accept
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Severity
from glasswatch.schemas.baseline_accept import MAX_PATTERN, BaselineAccept, acceptable

T = datetime(2026, 1, 1, tzinfo=UTC)
GOOD: dict[str, Any] = {"id": "0" * 32, "model": "churn", "signal": "feature:age:*", "by": "ana", "note": "",
                        "at": "2026-01-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z"}  # fmt: skip


def _parse(**change: Any) -> BaselineAccept:
    return BaselineAccept.model_validate_json(json.dumps({**GOOD, **change}))


def test_a_valid_record_round_trips_and_times_are_utc() -> None:
    a = _parse(at="2026-01-01T02:00:00+02:00")
    assert a.at == T and a.at.tzinfo == UTC
    assert BaselineAccept.model_validate_json(a.model_dump_json()) == a
    assert _parse(signal=None).matches("anything:at:all")
    local = BaselineAccept.create(model="m", signal=None, at=T.astimezone(timezone(timedelta(hours=-5))),
                                  by="x", created_at=T)  # fmt: skip
    assert local.at.utcoffset() == timedelta(0) and local.id != BaselineAccept.create(
        model="m", signal=None, at=T, by="x", created_at=T).id  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"id": "not-hex"},
        {"id": "A" * 32},
        {"id": "0" * 33},
        {"model": "<script>"},
        {"model": "m" * 129},
        {"model": ""},
        {"signal": ""},
        {"signal": "x" * (MAX_PATTERN + 1)},
        {"signal": "feature:\x1b[31m:mean"},
        {"signal": "feature:\u202eage:mean"},
        {"signal": " feature:age:mean"},
        {"by": ""},
        {"by": " "},
        {"by": "b" * 201},
        {"by": "ana\r\nX-Injected: 1"},
        {"note": "n" * 2001},
        {"at": "2026-01-01T00:00:00"},  # no zone
        {"at": 1767225600},
        {"created_at": None},
        {"extra": 1},
        {"schema_version": 2},
        {"signal": 7},
    ],
)
def test_hostile_records_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        _parse(**change)


def test_the_model_is_frozen_and_exports_what_it_defines() -> None:
    a = _parse()
    with pytest.raises(pydantic.ValidationError):
        a.by = "mallory"  # type: ignore[misc]
    for name in baseline_accept.__all__:
        assert hasattr(baseline_accept, name)


def test_acceptable_alerts_are_firing_learned_bands_and_detectors() -> None:
    def alert(source: str, status: AlertStatus = AlertStatus.FIRING) -> Alert:
        return Alert.build(kind=AlertKind.THRESHOLD_DYNAMIC, severity=Severity.WARNING, model="m", signal="s",
                           summary="x", starts_at=T, status=status, labels={"source": source},
                           ends_at=T)  # fmt: skip

    assert acceptable(alert("dynamic")) and acceptable(alert("detector:adwin"))
    assert not acceptable(alert("static")) and not acceptable(alert("dynamic", AlertStatus.RESOLVED))
    assert not acceptable(alert(""))
