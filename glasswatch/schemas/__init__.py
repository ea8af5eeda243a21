"""Pure data contracts (pydantic v2, frozen). No I/O, no framework imports."""

from __future__ import annotations

from glasswatch.schemas.alert import (
    Alert,
    AlertKind,
    AlertStatus,
    Lineage,
    Links,
    OffsetRange,
    Severity,
    fingerprint_of,
)
from glasswatch.schemas.dead_letter import REASONS, DeadLetter
from glasswatch.schemas.events import (
    SCHEMA_VERSION,
    BatchEnvelope,
    Event,
    FeatureEvent,
    FeatureValue,
    LabelEvent,
    PredictionEvent,
    Tick,
)

__all__ = [
    "REASONS",
    "SCHEMA_VERSION",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "BatchEnvelope",
    "DeadLetter",
    "Event",
    "FeatureEvent",
    "FeatureValue",
    "LabelEvent",
    "Lineage",
    "Links",
    "OffsetRange",
    "PredictionEvent",
    "Severity",
    "Tick",
    "fingerprint_of",
]
