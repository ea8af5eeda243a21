"""Drift windows from window summaries: closing rules, offsets, commit positions, rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from glasswatch.drift.rows import PREDICTION, rows_of
from glasswatch.drift.spec import DriftSpec, drift_spec_of, load_drift_specs
from glasswatch.drift.window import DriftWindow, DriftWindowCloser, format_offsets, parse_offsets
from glasswatch.errors import ConfigError
from glasswatch.monitor.replay import Message
from glasswatch.monitor.summary import WindowSummary
from glasswatch.schemas.coords import Coord, OffsetRange

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def summary(i: int, *, version: str = "1", count: int = 100, partition: int = 0,
            stream: str = "events") -> WindowSummary:
    rng = OffsetRange(topic="preds", partition=partition, first=100 * i, last=100 * i + 99)
    return WindowSummary(model="m", stream=stream, start=T0 + timedelta(minutes=i),
                         end=T0 + timedelta(minutes=i + 1), count=count, model_version=version,
                         offsets=(rng,))


def test_closes_every_n_windows_with_the_union_of_their_offsets() -> None:
    c = DriftWindowCloser(period_windows=2, min_rows=1)
    closed = []
    for i in range(5):
        for stream in ("events", "feature:x", "prediction"):  # several summaries per monitor window
            closed += c.update(summary(i, stream=stream), position=10 * i).closed
    assert [(w.windows, w.rows) for w in closed] == [(2, 200), (2, 200)]
    assert [format_offsets(w.offsets) for w in closed] == ["preds:0:0-199", "preds:0:200-399"]
    assert closed[1].start == T0 + timedelta(minutes=2) and closed[1].end == T0 + timedelta(minutes=4)
    assert c.oldest_position == 40  # the open window's first summary: commit no further


def test_offsets_per_partition_and_max_rows_close_early() -> None:
    c = DriftWindowCloser(period_windows=100, max_rows=250, min_rows=1)
    out = []
    for i in range(4):
        out += c.update(summary(i, partition=i % 2)).closed
    (w,) = out
    assert w.rows == 300 and format_offsets(w.offsets) == "preds:0:0-299,preds:1:100-199"


def test_small_windows_stay_open_and_a_new_version_closes_or_drops() -> None:
    c = DriftWindowCloser(period_windows=1, min_rows=250)
    assert [len(c.update(summary(i)).closed) for i in range(3)] == [0, 0, 0]
    closed = c.update(summary(3, version="2")).closed  # 300 rows of v1: enough
    assert [(w.model_version, w.rows) for w in closed] == [("1", 300)]
    assert c.update(summary(4, version="3")).closed == () and c.dropped == 1  # 100 rows of v2: too few
    assert c.flush("m") is not None and c.flush("m") is None


def test_window_identity_and_offsets_round_trip() -> None:
    offsets = parse_offsets("a:b:0:1-5,c:2:7-9")
    w = DriftWindow(model="m", model_version="1", start=T0, end=T0, offsets=offsets)
    assert w.offsets[0].topic == "a:b" and format_offsets(w.offsets) == "a:b:0:1-5,c:2:7-9"
    assert w.id == DriftWindow.model_validate_json(w.model_dump_json()).id
    assert w.id != w.model_copy(update={"model_version": "2"}).id
    assert "--offsets a:b:0:1-5 --offsets c:2:7-9" in w.replay_command()


def _msg(offset: int, **doc: object) -> Message:
    base = {"type": "prediction", "model": "m", "model_version": "1", "prediction_id": f"p{offset}",
            "event_time": "2026-01-01T00:00:30Z"}
    return Message(Coord("preds", 0, offset), orjson.dumps(base | doc))


def test_rows_are_exactly_the_window_events() -> None:
    w = DriftWindow(model="m", model_version="1", start=T0, end=T0 + timedelta(minutes=1),
                    offsets=(OffsetRange(topic="preds", partition=0, first=1, last=6),))
    msgs = [
        _msg(0, features={"x": 0}),  # before the range
        _msg(1, features={"x": 1, "plan": "pro"}, prediction=0.2, probabilities={"yes": 0.2, "no": 0.8}),
        _msg(2, features={"x": 2}, model="other"),  # another model
        _msg(3, features={"x": 3}, event_time="2026-01-01T00:01:00Z"),  # at the window's end
        _msg(4, features={"x": 4}, model_version="2"),  # another version
        Message(Coord("preds", 0, 5), b"{not json"),  # refused
        _msg(6, features={"x": 6}, prediction=1),
        _msg(7, features={"x": 7}),  # after the range
    ]
    rows = rows_of(msgs, w)
    assert rows["x"].tolist() == [1, 6]
    assert rows[PREDICTION].tolist() == [0.2, 1]
    assert rows["proba:yes"].iloc[0] == 0.2 and rows["plan"].iloc[0] == "pro"
    assert rows_of(list(reversed(msgs)), w)["x"].tolist() == [6, 1]  # offset order as given


def test_drift_section_of_a_monitor_spec_file(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "monitors.yaml"  # type: ignore[operator]
    path.write_text("model: a\ndrift: {period_windows: 3, drift_share: 0.3}\n---\nmodel: b\n")
    specs = load_drift_specs(path)
    assert specs["a"].period_windows == 3 and specs["a"].drift_share == 0.3
    assert specs["b"] == DriftSpec()
    path.write_text("model: a\ndrift: {period_windows: 0}\n")
    with pytest.raises(ConfigError, match=r"model a\): drift\.period_windows"):
        load_drift_specs(path)
    with pytest.raises(ConfigError, match=r"drift\.bogus"):
        drift_spec_of({"bogus": 1})
    assert DriftSpec(threshold=0.1, per_column={"x": {"method": "psi"}}).column("x").threshold == 0.1
