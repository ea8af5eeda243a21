"""The worker reads each model's label-join settings from the ``drift.performance`` section of its
monitor specs; a bad section stops it with the file, model and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from glasswatch.commands.worker import performance_lookup
from glasswatch.drift.performance import PerformanceConfig
from glasswatch.errors import ConfigError


def test_each_model_gets_its_own_performance_section(tmp_path: Path) -> None:
    spec = tmp_path / "monitors.yaml"
    spec.write_text(
        "model: churn\ndrift:\n  performance: {window: 300, detector: page_hinkley, tolerance: 0.1}\n"
        "---\nmodel: fraud\nwindow: {size_seconds: 10}\n",
        encoding="utf-8",
    )
    lookup = performance_lookup(spec)
    churn = lookup("churn")
    assert (churn.window, churn.detector, churn.tolerance) == (300, "page_hinkley", 0.1)
    assert lookup("fraud") == PerformanceConfig() == lookup("unknown")
    assert performance_lookup(None)("churn") == PerformanceConfig()


@pytest.mark.parametrize(
    ("section", "field"),
    [("{window: 0}", "drift.performance"), ("{detector: magic}", "drift.performance.detector"),
     ("{windw: 10}", "drift.performance.windw")],
)
def test_a_bad_section_names_the_file_model_and_field(tmp_path: Path, section: str, field: str) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text(f"model: churn\ndrift:\n  performance: {section}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"m\.yaml \(model churn\): {field}"):
        performance_lookup(spec)
