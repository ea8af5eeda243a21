"""deploy/prometheus: the shipped config and rules pass ``promtool`` (Debian's), and the rule
unit tests (rules_test.yml) both pass and catch a broken rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.prometheus_servers import binary

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
RULES = ("GlasswatchWorkerDown", "GlasswatchWorkerAbsent", "GlasswatchNoData",
         "GlasswatchConsumerLagHigh", "GlasswatchDeadLetterRateHigh")  # fmt: skip


def _promtool(*args: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_rules_and_config_are_valid() -> None:
    rules = _promtool("check", "rules", "rules.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in rules.stdout
    config = _promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_rule_has_a_firing_case_and_the_cases_pass() -> None:
    cases = (DEPLOY / "rules_test.yml").read_text()
    for name in RULES:
        assert f"alertname: {name}\n        exp_alerts:\n          - exp_labels" in cases, name
    result = _promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("> 10000", "> 30000"),  # lag threshold above the test's lag
        ("> 0.05", "> 0.5"),  # dead-letter share above the test's 10%
        ("[10m])) == 0", "[10m])) < 0"),  # no-data condition that can never hold
        ("for: 2m", "for: 5m"),
    ],
)
def test_a_broken_rule_fails_its_case(tmp_path: Path, old: str, new: str) -> None:
    for name in ("rules.yml", "rules_test.yml"):
        shutil.copy(DEPLOY / name, tmp_path / name)
    rules = (tmp_path / "rules.yml").read_text()
    assert old in rules
    (tmp_path / "rules.yml").write_text(rules.replace(old, new, 1))
    result = _promtool("test", "rules", "rules_test.yml", cwd=tmp_path)
    assert result.returncode != 0, result.stdout
