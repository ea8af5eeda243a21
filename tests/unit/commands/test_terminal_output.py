"""What the CLI prints of producer-controlled text reaches the terminal escaped, and a config
file that is not UTF-8 gives one clear error line, not a traceback."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glasswatch.alerting.silence import Silence
from glasswatch.cli import app, main
from glasswatch.commands.dlq import render_letters
from glasswatch.commands.silence import render_silences
from glasswatch.commands.status import render_stats

ESC = "\x1b[2J\x1b[H"  # clear the screen, cursor home
HOSTILE = f"cat{ESC}\r\u202egnp.exe\x9b31m\x07"
SHOWN = "cat\\x1b[2J\\x1b[H\\x0d\\u202egnp.exe\\x9b31m\\x07"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _assert_clean(text: str) -> None:
    bad = [ch for ch in text if (ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F
           or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069]
    assert not bad, bad


def _snap() -> dict[str, object]:
    feature = {"count": 3, "missing_rate": 0.0, "mean": 1.0, "std": 0.5, "min": 0.0, "max": 2.0,
               "categories": {HOSTILE: 2, "plain": 1}}
    return {
        "accepted": 3,
        "rejected": 1,
        "rejects": {HOSTILE: 1},
        "models": {HOSTILE: {"versions": {HOSTILE: 3}, "events": {"prediction": 3},
                             "features": {HOSTILE: feature, "x": {**feature, "categories": {}}}}},
    }


def test_status_shows_an_escape_sequence_category_escaped() -> None:
    text = render_stats(_snap())
    _assert_clean(text)
    assert "top categories" in text
    assert f"{SHOWN}:2, plain:1" in text  # the category, visible
    assert f"model {SHOWN}" in text and f"dead letters by reason: {SHOWN}=1" in text
    table = [line for line in text.splitlines() if line.startswith(("feature", SHOWN, "x "))]
    assert len(table) == 3
    # the columns still line up: widths are those of the escaped text
    col = table[0].index("count")
    assert col == len(SHOWN) + 2
    assert [line[col] for line in table[1:]] == ["3", "3"]


def test_dlq_show_escapes_reasons_topics_and_details() -> None:
    letters = [
        {"reason": HOSTILE, "detail": f"bad{ESC}\nforged line", "source_topic": HOSTILE,
         "source_partition": 0, "source_offset": 1},
        {"reason": "wrong_type", "detail": "2 refused", "source_topic": "p", "source_partition": 1,
         "source_offset": 8, "rejected": 2, "items": [{"reason": HOSTILE, "detail": ESC, "indexes": [0, 2]}]},
    ]
    text = render_letters(letters, "dlq")
    _assert_clean(text)
    lines = text.splitlines()
    assert lines[0] == "2 dead letters (3 refused events) in dlq"
    assert f"  {SHOWN}: 3" in lines
    assert f"    {SHOWN}[0]@1: bad\\x1b[2J\\x1b[H\\x0aforged line" in lines
    assert "forged line" not in [line.strip() for line in lines]  # no line of its own


def test_silence_list_escapes_what_the_silences_topic_holds() -> None:
    s = Silence.create(matchers=[f'model="{HOSTILE}"'], starts_at=NOW, ends_at=NOW + timedelta(hours=1),
                       created_by=HOSTILE, comment=f"why{ESC}")
    text = render_silences([s], NOW + timedelta(minutes=1))
    _assert_clean(text)
    assert SHOWN in text and "why\\x1b[2J\\x1b[H" in text
    assert len(text.splitlines()) == 2


ROUTES = """\
receivers:
  - {name: log, kind: log}
route:
  receiver: log
  routes:
    - {matchers: ["model=\\"\\e[2J\\u202e\\""], receiver: log}
"""


def test_routes_check_escapes_matcher_values(tmp_path: Path) -> None:
    f = tmp_path / "routes.yaml"
    f.write_text(ROUTES)
    result = CliRunner().invoke(app, ["routes", "check", str(f)])
    assert result.exit_code == 0, result.output
    _assert_clean(result.output)
    assert 'model="\\x1b[2J\\u202e" → log' in result.output


def _not_utf8(path: Path, head: str) -> Path:
    path.write_bytes(head.encode() + b"# caf\xe9\n")
    return path


def _one_error_line(output: str, path: Path) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    offset = len(path.read_bytes()) - 2  # the 0xe9 before the last "\n"
    assert lines == [f"error: {path}: not UTF-8 text (byte 0xe9 at offset {offset})"], output
    assert "Traceback" not in output


def test_routes_check_on_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    f = _not_utf8(tmp_path / "routes.yaml", ROUTES)
    result = CliRunner().invoke(app, ["routes", "check", str(f)])
    assert result.exit_code == 1  # routes check's code for an invalid routing file
    _one_error_line(result.output, f)


def test_monitor_spec_file_that_is_not_utf8_via_replay(tmp_path: Path) -> None:
    spec = _not_utf8(tmp_path / "spec.yaml", "model: m\n")
    args = ["replay", "--model", "m", "--offsets", "t:0:0-1", "--spec", str(spec)]
    result = CliRunner().invoke(app, args, env={"GLASSWATCH_KAFKA__BOOTSTRAP": "127.0.0.1:1"})
    assert result.exit_code == 2
    _one_error_line(result.output, spec)


def test_router_run_with_a_routes_file_that_is_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through ``main()``: a ConfigError is one ``error:`` line and exit code 2."""
    f = _not_utf8(tmp_path / "routes.yaml", ROUTES)
    monkeypatch.setattr(sys, "argv", ["glasswatch", "router", "run", "--routes", str(f)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    out = capsys.readouterr()
    _one_error_line(out.err, f)
