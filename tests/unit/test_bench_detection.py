"""The detection bench (``bench/detection.py``): its scenario generators make the change they
name, and its delay / missed / false-alarm / firing-at-end bookkeeping is right on changes that
are trivially detectable (or trivially not). Small windows (1 s at 100 events/s) keep it quick."""

from __future__ import annotations

import importlib.util
import itertools
import json
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from glasswatch.testing.simulate import CLASS_MIX

BENCH = Path(__file__).resolve().parents[2] / "bench" / "detection.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_detection", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_detection"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


bench = _load()
OPTS = bench.Options(rate=100.0, window_seconds=1.0, seeds=(1,), clean_events=2_500, reference_rows=1_000)
E = OPTS.per_window  # 100 events per window


def _events(name: str) -> list[Any]:
    return [r.event for chunk in bench.stream(bench.scenarios()[name], 1, OPTS) for r in chunk]


def _gaps(evs: list[Any]) -> list[float]:
    return [(b.event_time - a.event_time).total_seconds() for a, b in itertools.pairwise(evs)]


def test_every_scenario_generates_its_length() -> None:
    for name, sc in bench.scenarios().items():
        evs = _events(name)
        assert len(evs) == (OPTS.clean_events if name == "clean" else sc.n_events(E)), name
        assert len(bench.reference_columns(sc, 1, OPTS)["prediction"]) == OPTS.reference_rows


def test_scenario_generators_make_their_change() -> None:
    at = 2 * E  # window 3
    early = _events("early_change")
    before, after = [e.features["x0"] for e in early[:at]], [e.features["x0"] for e in early[at:]]
    assert statistics.mean(after) - statistics.mean(before) == pytest.approx(1.0, abs=0.15)  # x0's sd is 1

    missing = [e.features["x0"] is None for e in _events("early_missing")]
    assert not any(missing[:at]) and statistics.mean(missing[at:]) == pytest.approx(0.3, abs=0.05)

    gaps = _gaps(_events("early_rate_drop"))
    assert statistics.mean(gaps[at:]) / statistics.mean(gaps[: at - 1]) == pytest.approx(10.0, rel=0.2)

    const = _events("constant_signal")
    assert {e.features["c20"] for e in const} == {20.0} and {e.features["c0"] for e in const} == {0.0}
    assert "x0" not in const[0].features and set(_gaps(const)) == {0.01}  # perfectly regular

    cov = _events("covariate_shift")
    at = 25 * E
    for col, moved in (("x0", 2.0), ("x2", 2.0 * 3), ("x3", 0.0)):  # x_j's sd is 1 + j
        shift = statistics.mean(e.features[col] for e in cov[at:]) - statistics.mean(
            e.features[col] for e in cov[:at])  # fmt: skip
        assert shift == pytest.approx(moved, abs=0.3), col

    clf = _events("class_mix")
    assert {e.prediction for e in clf} == set(CLASS_MIX)
    assert all(max(e.probabilities, key=e.probabilities.get) == e.prediction for e in clf)
    share_c = [statistics.mean(e.prediction == "c" for e in part) for part in (clf[:at], clf[at:])]
    assert share_c == [pytest.approx(0.1, abs=0.03), pytest.approx(0.5, abs=0.05)]
    assert None not in bench.reference_columns(bench.scenarios()["early_missing"], 1, OPTS)["x0"]


def _run(sc: Any, config: str = "dynamic", mode: str = "learned") -> dict[str, Any]:
    specs = {config: bench.configs(OPTS.window_seconds)[config]}
    rows = bench.run_scenario(sc, specs, [mode], OPTS)
    assert len(rows) == 1
    return dict(rows[0])


def test_delay_missed_and_false_alarms_on_trivial_changes() -> None:
    big = bench.Scenario("big", {"change": "mean_shift", "magnitude": 20.0}, windows=35, change_window=25,
                         persistent=True)  # fmt: skip
    row = _run(big)
    assert row["missed"] == 0 and row["false_alarms"] == 0 and row["firing_at_end"] == 1
    # the learned band fires on the 2nd breaching window (hysteresis 2); the change may start a
    # window early with Poisson arrivals (its window is the one holding the first changed event)
    assert row["delay_windows"] == row["delay_windows_max"] in (2, 3)
    assert (row["delay_windows"] - 1) * E <= row["delay_events"] <= (row["delay_windows"] + 1) * E

    invisible = bench.Scenario("none", {"change": "mean_shift", "magnitude": 0.0}, windows=35,
                               change_window=25)  # fmt: skip
    row = _run(invisible)
    assert row["missed"] == 1 and row["delay_windows"] is None and row["false_alarms"] == 0

    elsewhere = bench.Scenario("other", big.sim, windows=35, change_window=25, streams=("feature:x1:",))
    row = _run(elsewhere)  # the x0 alert is on an unrelated signal: a false alarm, the change missed
    assert row["missed"] == 1 and row["false_alarms"] >= 1
    assert row["false_alarm_signals"].get("feature:x0:mean", 0) >= 1
    per_100k = row["false_alarms"] * 100_000 / row["events"]
    assert row["false_alarms_per_100k"] == pytest.approx(per_100k, abs=1e-3)


def test_reference_baseline_catches_an_early_change_the_learned_band_absorbs() -> None:
    early = bench.Scenario("early", {"change": "mean_shift", "magnitude": 20.0}, windows=30, change_window=3)
    assert _run(early)["missed"] == 1  # the warm-up learns the shifted level as normal
    row = _run(early, mode="reference")
    assert "skipped" not in row, row
    assert row["missed"] == 0 and row["delay_windows_max"] <= 3 and row["false_alarms"] == 0


def test_windows_of_numbers_from_one_and_drops_the_unclosed_window() -> None:
    recs = bench.stream(bench.scenarios()["constant_signal"], 1, OPTS).__next__()[:450]  # 4.5 windows
    windows = bench._windows_of(recs, 1.0)
    assert [w for w, _ in windows] == [1, 2, 3, 4] and [len(rs) for _, rs in windows] == [99, 100, 100, 100]


def test_main_prints_one_json_row_per_config_and_scenario_and_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--quick", "--scenarios", "early_change,constant_signal,clean", "--configs", "dynamic,adwin",
            "--window-seconds", "1", "--clean-events", "3000", "--reference-rows", "1000"]  # fmt: skip
    assert bench.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rows, summary = lines[:-1], lines[-1]
    assert {(r["config"], r["baseline"], r["scenario"]) for r in rows} == {
        (c, b, s) for c in ("dynamic", "adwin") for b in ("learned", "reference")
        for s in ("early_change", "constant_signal", "clean")
    }  # fmt: skip
    for r in rows:
        assert {"runs", "events", "false_alarms", "false_alarms_per_100k"} <= r.keys()
        if r["scenario"] == "early_change":
            assert {"delay_events", "delay_windows", "missed"} <= r.keys()
    clean = [r for r in rows if r["scenario"] == "clean"]
    assert {r["events"] for r in clean} == {3000}
    assert summary["summary"] is True and summary["quick"] is True
    assert all("pass" in t for t in summary["targets"])
    assert bench.main(["--configs", "nope"]) == 2
