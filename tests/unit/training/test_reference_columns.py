"""Every column of the registered reference can be published as event features (issue 10 item 6).

The reference is the breast-cancer frame the pipeline builds (:func:`load_splits`), written the
way ``glasswatch train`` registers it (:func:`write_version`, CSV) and read back the way the
drift job reads it (:func:`read_frame`). Each of its rows is published as a prediction event
with the real column names (``mean radius``, ``worst concave points``, ...): the event
validates, :func:`decode` accepts its JSON alone and in a batch envelope, and the feature names
of the decoded events, and the columns of a drift window's rows, match the reference's feature
columns one to one. No MLflow, no Kafka.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pytest

from glasswatch.drift.reference import read_frame
from glasswatch.drift.rows import PREDICTION, rows_of
from glasswatch.drift.window import DriftWindow
from glasswatch.ingest.validate import decode
from glasswatch.monitor.replay import Message
from glasswatch.schemas.coords import Coord, OffsetRange
from glasswatch.schemas.events import NAME_PATTERN, BatchEnvelope, PredictionEvent
from glasswatch.training.data_version import write_version
from glasswatch.training.pipeline import TARGET, load_splits

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    frame = load_splits()["reference"]
    registered = write_version(frame, tmp_path_factory.mktemp("data"), "v1", "reference")
    back = read_frame(Path(registered.path))
    assert list(back.columns) == list(frame.columns)  # the names survive the registered file
    return back


def _features(reference: pd.DataFrame) -> list[str]:
    return [str(c) for c in reference.columns if c != TARGET]


def _events(reference: pd.DataFrame) -> list[PredictionEvent]:
    cols = _features(reference)
    return [
        PredictionEvent(model="breast-cancer", model_version="1", prediction_id=f"p{i}",
                        event_time=T0 + timedelta(seconds=i),
                        features={c: float(row[c]) for c in cols}, prediction=int(row[TARGET]))
        for i, row in reference.iterrows()
    ]


def test_the_reference_has_the_real_names(reference: pd.DataFrame) -> None:
    cols = _features(reference)
    assert len(cols) == 30 and "mean radius" in cols and "worst concave points" in cols
    with_spaces = [c for c in cols if " " in c]
    assert len(with_spaces) == 30  # every one of them: the old contract refused them all
    assert not pd.Series(cols).str.fullmatch(NAME_PATTERN).any()  # nor any other identifier rule


def test_every_row_publishes_and_decodes_with_every_column(reference: pd.DataFrame) -> None:
    cols = set(_features(reference))
    events = _events(reference)
    assert len(events) == len(reference) == 114
    seen: set[str] = set()
    for sent in events:
        result = decode(sent.model_dump_json().encode(), now=NOW)
        assert result.rejects == [], [(r.reason, r.detail) for r in result.rejects]
        (got,) = result.events
        assert got == sent
        assert isinstance(got, PredictionEvent) and got.features is not None
        assert set(got.features) == cols  # one to one, per event
        seen |= set(got.features)
    assert seen == cols


def test_a_batch_of_the_whole_reference_is_accepted(reference: pd.DataFrame) -> None:
    events = _events(reference)
    raw = BatchEnvelope(events=events).model_dump_json().encode()
    result = decode(raw, now=NOW)
    assert result.rejects == [] and result.events == events


def test_drift_window_rows_match_the_reference_columns(reference: pd.DataFrame) -> None:
    """What the drift job compares: a window's rows, column for column, with the reference."""
    events = _events(reference)
    msgs = [Message(Coord("predictions", 0, i), orjson.dumps(e.model_dump(mode="json")))
            for i, e in enumerate(events)]
    whole = OffsetRange(topic="predictions", partition=0, first=0, last=len(msgs) - 1)
    window = DriftWindow(model="breast-cancer", model_version="1", start=T0, end=T0 + timedelta(hours=1),
                         offsets=(whole,))
    rows = rows_of(msgs, window)
    assert sorted(set(rows.columns) - {PREDICTION}) == sorted(_features(reference))
    expected = reference[_features(reference)].astype(float).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[_features(reference)], expected)
