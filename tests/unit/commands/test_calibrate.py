"""``glasswatch calibrate`` from reference rows, and its refusals (issue 11)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glasswatch.cli import app
from glasswatch.commands.calibrate import _reference_events
from glasswatch.monitor.calibration import calibrate_spec
from glasswatch.monitor.specs import load_spec_text, load_specs

runner = CliRunner()
NO_BROKER = {"GLASSWATCH_KAFKA__BOOTSTRAP": "127.0.0.1:9"}
SPEC = """\
model: churn
window: {size_seconds: 1}
anomaly: {enabled: false}
signals:
  "feature:plan:*": {severity: info}
drift: {stattest: psi}
---
model: other
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = random.Random(0)
    ref = tmp_path / "ref.csv"
    lines = ["age,income,plan,prediction"]
    lines += [f"{rng.gauss(40, 10):.3f},{rng.gauss(5e4, 1e4):.1f},{rng.choice('abc')},{rng.random():.4f}"
              for _ in range(400)]  # fmt: skip
    ref.write_text("\n".join(lines) + "\n")
    spec = tmp_path / "specs.yaml"
    spec.write_text(SPEC)
    return ref, spec


def test_calibrates_from_reference_rows_into_a_loadable_spec(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, spec_file = files
    out = tmp_path / "calibrated.yaml"
    args = ["calibrate", "churn", "--from-reference", str(ref), "--spec", str(spec_file), "--events", "5000",
            "--false-alarms-per-100k", "30", "--seed", "3", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if " -> " in line]
    assert [line.split(":")[0] for line in progress] == ["dynamic", "page_hinkley", "adwin"]
    assert "target 10;" in progress[0]  # 30 per 100k over the spec's three families

    (written,) = load_specs(out)
    original = load_specs(spec_file)[0]
    events = _reference_events(ref, model="churn", n=5000, rate=100.0, seed=3)
    expected = calibrate_spec(original, events, false_alarms_per_100k=30.0).calibrated_spec()
    assert written.default == expected.default
    assert written.default.dynamic is not None and written.default.dynamic.k != 5.0
    assert written.signals == original.signals and written.drift == {"stattest": "psi"}
    assert written.window == original.window and written.anomaly == original.anomaly
    assert out.read_text().startswith("# calibrated by glasswatch calibrate on 5,000 clean events (ref.csv")

    printed = runner.invoke(app, args[:-2])  # the same, printed: deterministic
    assert printed.exit_code == 0
    assert load_spec_text(printed.stdout) == written
    assert "note: one false alarm in 5,000 events is 20 per 100k" in printed.stderr


def test_reference_rows_become_a_seeded_poisson_stream(files: tuple[Path, Path]) -> None:
    ref, _ = files
    a = list(_reference_events(ref, model="m", n=300, rate=50.0, seed=1))
    b = list(_reference_events(ref, model="m", n=300, rate=50.0, seed=1))
    assert [r.event for r in a] == [r.event for r in b]
    assert [r.coord.offset for r in a] == list(range(300))
    span = (a[-1].event.event_time - a[0].event.event_time).total_seconds()
    assert 4.0 < span < 8.0  # ~300 / 50 s
    ev = a[0].event
    assert set(ev.features or {}) == {"age", "income", "plan"} and isinstance(ev.prediction, float)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give exactly one clean history"),
        (["--from-reference", "REF", "--offsets", "t:0:1-5"], "give exactly one clean history"),
        (["--from-reference", "REF", "--spec", "MISSING"], "cannot read spec file"),
        (["--from-reference", "MISSING"], "cannot read reference file"),
        (["--from-reference", "EMPTY"], "the reference has no rows"),
        (
            ["--from-reference", "REF", "--events", "500"],
            "its 500 events close 0 windows of 60 s; calibrating needs 30 closed windows (warm-up 20 + 10 "
            "judged): about 18",
        ),
        (["--offsets", "t:0:9-1"], "expected TOPIC:PARTITION:FIRST-LAST"),
        (["--offsets", "t:0:1-5"], "cannot reach Kafka"),
    ],
)
def test_bad_input_fails_with_a_clear_error(
    files: tuple[Path, Path], tmp_path: Path, extra: list[str], message: str
) -> None:
    ref, spec = files
    empty = tmp_path / "empty.csv"
    empty.write_text("age,income\n")
    paths = {"REF": str(ref), "SPEC": str(spec), "MISSING": str(tmp_path / "nope.csv"), "EMPTY": str(empty)}
    result = runner.invoke(app, ["calibrate", "churn", *[paths.get(a, a) for a in extra]], env=NO_BROKER)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_model_in_the_spec_file(files: tuple[Path, Path]) -> None:
    ref, spec = files
    result = runner.invoke(app, ["calibrate", "nope", "--from-reference", str(ref), "--spec", str(spec)])
    assert result.exit_code == 2
    assert "no spec for model 'nope' (models in the file: churn, other)" in result.stderr


def test_a_spec_without_learned_rules_has_nothing_to_calibrate(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, _ = files
    spec = tmp_path / "static.yaml"
    spec.write_text("model: churn\ndefault: {dynamic: null, detectors: []}\n")
    result = runner.invoke(app, ["calibrate", "churn", "--from-reference", str(ref), "--spec", str(spec)])
    assert result.exit_code == 2
    assert "no learned band or drift detector to calibrate" in result.stderr


def test_help_explains_the_sources_and_the_budget() -> None:
    result = runner.invoke(app, ["calibrate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for word in ("--offsets", "--from-reference", "--false-alarms-per-100k", "--out", "--spec", "--seed",
                 "split equally", "least conservative"):  # fmt: skip
        assert word in result.output
