from __future__ import annotations

from pathlib import Path

import pytest

from glasswatch.errors import ConfigError
from glasswatch.monitor.specs import MonitorSpec, SignalSpec, StaticBounds, load_spec_text, load_specs


def test_defaults_work_without_a_spec_file() -> None:
    spec = MonitorSpec(model="m")
    sig = spec.signal("feature:anything:mean")
    assert sig.enabled
    assert sig.dynamic is not None
    assert [d.kind for d in sig.detectors] == ["adwin", "page_hinkley"]
    assert spec.features is None
    assert spec.watches("whatever")
    assert spec.anomaly.enabled


def test_last_matching_pattern_wins() -> None:
    spec = MonitorSpec(
        model="m",
        signals={
            "feature:*": SignalSpec(severity="info"),
            "feature:age:*": SignalSpec(severity="critical", static=StaticBounds(upper=1.0)),
        },
    )
    assert spec.signal("feature:age:mean").severity == "critical"
    assert spec.signal("feature:plan:mean").severity == "info"
    assert spec.signal("prediction:mean").severity == "warning"


def test_load_specs_reads_several_documents(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(
        "model: churn\nwindow: {size_seconds: 30, hop_seconds: 10}\n"
        "---\nmodel: fraud\nfeatures: [amount]\nanomaly: {enabled: false}\n"
        "signals:\n  'feature:amount:mean':\n    detectors: [{kind: kswin, params: {alpha: 0.001}}]\n"
    )
    churn, fraud = load_specs(path)
    assert churn.window.hop_seconds == 10.0
    assert fraud.features == ("amount",)
    assert not fraud.anomaly.enabled
    assert fraud.signal("feature:amount:mean").detectors[0].params == {"alpha": 0.001}


def test_duplicate_models_in_one_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("model: a\n---\nmodel: a\n")
    with pytest.raises(ConfigError, match="unique"):
        load_specs(path)


def test_error_names_file_line_and_nested_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model: churn\nsignals:\n  'feature:age:mean':\n    static:\n      upper: high\n")
    with pytest.raises(ConfigError) as err:
        load_specs(path)
    assert f"{path}:5: signals.feature:age:mean.static.upper:" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_unknown_field_and_bad_detector_kind_are_named() -> None:
    with pytest.raises(ConfigError, match=r"x.yaml:3: window.size: Extra inputs are not permitted"):
        load_spec_text("model: m\nwindow:\n  size: 10\n", source="x.yaml")
    text = "model: m\ndefault:\n  detectors:\n    - kind: adwin\n    - kind: cusum\n"
    with pytest.raises(ConfigError, match=r"<string>:5: default.detectors.1.kind"):
        load_spec_text(text)


def test_cross_field_rule_and_yaml_syntax_errors() -> None:
    with pytest.raises(ConfigError, match=r"w\.yaml:2: window: hop_seconds must divide size_seconds"):
        load_spec_text("model: m\nwindow: {size_seconds: 10, hop_seconds: 3}\n", source="w.yaml")
    with pytest.raises(ConfigError, match=r"y.yaml:\d+: invalid YAML"):
        load_spec_text("model: m\nwindow: {size_seconds: 1\n  bad: [x\n", source="y.yaml")
    with pytest.raises(ConfigError, match="a spec must be a mapping"):
        load_spec_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_specs("/nonexistent/monitors.yaml")


def test_config_hash_is_stable_and_content_sensitive() -> None:
    a = load_spec_text("model: m\n")
    assert a.config_hash() == MonitorSpec(model="m").config_hash()
    assert a.config_hash() != MonitorSpec(model="m", seed=1).config_hash()


def test_specs_are_frozen() -> None:
    spec = MonitorSpec(model="m")
    with pytest.raises(ValueError, match="frozen"):
        spec.model = "other"  # type: ignore[misc]


def test_detector_params_are_checked_against_river() -> None:
    text = "model: m\ndefault:\n  detectors:\n    - kind: page_hinkley\n      params: {treshold: 3}\n"
    with pytest.raises(ConfigError, match=r"<string>:4: default\.detectors\.0: invalid page_hinkley params"):
        load_spec_text(text)


def test_the_documented_example_spec_loads() -> None:
    example = Path(__file__).resolve().parents[3] / "docs" / "monitor-spec.example.yaml"
    churn, fraud = load_specs(example)
    assert churn.window.hop_seconds == 30.0
    assert churn.signal("feature:age:mean").static == StaticBounds(lower=18, upper=70)
    assert churn.signal("feature:plan:missing_rate").severity == "critical"
    assert not churn.signal("latency:p95").enabled
    assert fraud == MonitorSpec(model="fraud")
