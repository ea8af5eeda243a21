"""One constant per fact: each is defined in one module and imported everywhere else."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import glasswatch
from glasswatch.monitor.aggregates import MAX_CATEGORIES, QUANTILES
from glasswatch.schemas.events import EPOCH, FeatureEvent, LabelEvent, PredictionEvent, TypedEvent

ROOT = Path(glasswatch.__file__).parent
SOURCES = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in ROOT.rglob("*.py")}


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r"^_?TypedEvent\s*=", "schemas/events.py"),
        (r"PredictionEvent \| FeatureEvent \| LabelEvent", "schemas/events.py"),
        (r"^_?EPOCH\s*=", "schemas/events.py"),
        (r"datetime\(1970,\s*1,\s*1", "schemas/events.py"),
        (r"^_?QUANTILES\s*=", "monitor/aggregates.py"),
        (r"\(0\.05,\s*0\.5,\s*0\.95\)", "monitor/aggregates.py"),
        (r"^_?MAX_CATEGORIES\s*=", "monitor/aggregates.py"),
        (r"AIOKafkaAdminClient\(", "kafka/admin.py"),
    ],
)
def test_defined_in_one_module(pattern: str, home: str) -> None:
    found = sorted(name for name, text in SOURCES.items() if re.search(pattern, text, re.MULTILINE))
    assert found == [home]


def test_the_shared_values() -> None:
    assert datetime.fromtimestamp(0, UTC) == EPOCH
    assert QUANTILES == (0.05, 0.5, 0.95)
    assert MAX_CATEGORIES == 64
    assert set(TypedEvent.__args__) == {PredictionEvent, FeatureEvent, LabelEvent}
