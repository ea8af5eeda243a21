"""``replay``, ``simulate --drift`` and the demo's listing without a broker (issue 13, parts 4 and 6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from glasswatch.cli import app
from glasswatch.commands.demo import dead_letter_lines
from glasswatch.testing.traffic import Shift, TrafficGenerator

runner = CliRunner()
NO_BROKER = {"GLASSWATCH_KAFKA__BOOTSTRAP": "127.0.0.1:9"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --offsets"),
        (["--offsets", "t:0:5-9", "--from-time", "2026-01-01"], "not both"),
        (["--offsets", "t:0:5-9", "--through", "8"], "ends before"),
        (["--from-time", "yesterday"], "expected an ISO time"),
    ],
)
def test_replay_refuses_what_it_cannot_run(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["replay", "--model", "m", *args], env=NO_BROKER)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_replay_without_a_broker_fails_cleanly() -> None:
    result = runner.invoke(
        app, ["replay", "--model", "m", "--offsets", "t:0:5-9", "--from", "0"], env=NO_BROKER
    )
    assert result.exit_code == 2
    assert "cannot reach Kafka" in result.output


def test_simulate_refuses_a_malformed_drift_before_touching_kafka() -> None:
    result = runner.invoke(app, ["simulate", "--events", "10", "--drift", "age+15"], env=NO_BROKER)
    assert result.exit_code == 2
    assert "FEATURE:+DELTA@AT" in result.output
    result = runner.invoke(app, ["simulate", "--events", "10", "--drift", "height:+1@0.5"], env=NO_BROKER)
    assert "feature must be one of" in result.output


def test_a_drift_shifts_only_its_span_of_events() -> None:
    shift = Shift.parse("age:+20@100-0.3", events=1000)
    assert (shift.at, shift.until) == (100, 300)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    plain, drifted = TrafficGenerator(start=t0), TrafficGenerator(start=t0, shifts=(shift,))
    deltas = [
        drifted.event(i)["features"]["age"] - plain.event(i)["features"]["age"] for i in (99, 100, 299, 300)
    ]
    assert [round(d) for d in deltas] == [0, 20, 20, 0]
    with pytest.raises(ValueError, match="UNTIL must come after AT"):
        Shift.parse("age:+1@0.5-0.4", events=10)


def test_dead_letter_listing_says_how_many_it_shows_and_never_cuts_a_word() -> None:
    detail = "prediction.model_version: Input should be a valid string, got an integer instead of it"
    letters = [
        {
            "reason": "wrong_type",
            "source_topic": "p",
            "source_partition": 0,
            "source_offset": i,
            "detail": detail,
        }
        for i in range(40)
    ]
    lines = dead_letter_lines(letters)
    assert lines[0].startswith("40 dead letters, showing 10 of 40")
    assert len(lines) == 11
    shown = lines[1].split("@0  ", 1)[1]
    assert shown.endswith("…") and len(shown) <= 70
    assert detail.startswith(shown.removesuffix("…").rstrip()) and detail[len(shown) - 1] == " "
    assert dead_letter_lines(letters[:3])[0] == "3 dead letters (all: glasswatch dlq show):"
    evil = [{**letters[0], "detail": "line\x1b[31m red\nnext"}]
    assert "\x1b" not in "\n".join(dead_letter_lines(evil))
