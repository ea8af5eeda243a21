"""Drift verdicts: the latest window per version wins, hostile records are skipped, the book is bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from glasswatch.drift.job import ColumnResult, DriftResult
from glasswatch.drift.verdict import DriftVerdict, VerdictBook, parse_verdict, verdict_key, verdict_of
from glasswatch.drift.window import DriftWindow
from glasswatch.schemas.coords import OffsetRange

T = datetime(2026, 1, 1, tzinfo=UTC)


def _verdict(
    model: str = "churn", version: str = "3", *, hours: int = 0, drifted: bool = True
) -> DriftVerdict:
    return DriftVerdict(model=model, model_version=version, window_id=f"{hours:016x}",
                        window_end=T + timedelta(hours=hours), drifted=drifted)  # fmt: skip


def test_the_newest_window_wins_whatever_the_arrival_order() -> None:
    book = VerdictBook()
    book.update(_verdict(hours=2, drifted=False)).update(_verdict(hours=1, drifted=True))
    assert book.inputs_drifted("churn", "3") is False
    book.update(_verdict(hours=3, drifted=True))
    assert book.inputs_drifted("churn", "3") is True
    assert book.inputs_drifted("churn", "4") is None  # no drift run reported on that version
    assert book.inputs_drifted("other", "3") is None


def test_the_book_is_bounded_and_forgets_the_oldest_version() -> None:
    book = VerdictBook(capacity=2)
    for i in range(3):
        book.update(_verdict(version=str(i), hours=i))
    assert len(book) == 2
    assert book.inputs_drifted("churn", "0") is None and book.inputs_drifted("churn", "2") is True
    with pytest.raises(ValueError, match="capacity"):
        VerdictBook(capacity=0)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"not json",
        b"[]",
        b'{"model": "m"}',
        _verdict().model_dump_json().replace('"drifted":true', '"drifted":"yes"').encode(),  # not strict bool
        _verdict().model_dump_json().replace('"schema_version":1', '"schema_version":2').encode(),
        _verdict()
        .model_dump_json()
        .replace('"window_end":"2026-01-01T00:00:00Z"', '"window_end":"2026-01-01T00:00:00"')
        .encode(),  # naive
        _verdict().model_dump_json()[:-1].encode() + b',"extra":1}',
        _verdict().model_dump_json().replace('"model":"churn"', '"model":"' + "m" * 300 + '"').encode(),
    ],
)
def test_records_that_do_not_validate_are_skipped(raw: bytes | None) -> None:
    assert parse_verdict(raw) is None


def test_a_record_round_trips() -> None:
    v = _verdict()
    assert parse_verdict(v.model_dump_json().encode()) == v
    assert v.key == verdict_key("churn", "3") == "churn\x1f3"


def _result(dataset_drift: bool, names: list[str]) -> DriftResult:
    cols = tuple(
        ColumnResult(column=n, column_type="num", tested=True, method="ks", score=0.001,
                     score_kind="p_value", threshold=0.05, drifted=True, strength=float(10 - i))
        for i, n in enumerate(names)
    )  # fmt: skip
    return DriftResult(columns=cols, drift_share=0.5, share_drifted=1.0, dataset_drift=dataset_drift)


def test_verdict_of_a_run_names_its_drifted_columns_and_skips_versionless_windows() -> None:
    window = DriftWindow(model="churn", model_version="3", start=T, end=T + timedelta(minutes=5),
                         offsets=(OffsetRange(topic="p", partition=0, first=10, last=20),))  # fmt: skip
    v = verdict_of(window, _result(True, ["mean radius", "x" * 300, "age"]), run_id="abc")
    assert v is not None
    assert (v.drifted, v.columns, v.window_id, v.window_end, v.run_id) == (
        True,
        ("mean radius", "age"),
        window.id,
        window.end,
        "abc",
    )  # an overlong name is left out
    assert verdict_of(window.model_copy(update={"model_version": None}), _result(False, [])) is None
    assert verdict_of(window, _result(False, []), run_id="r" * 65).run_id is None  # type: ignore[union-attr]
