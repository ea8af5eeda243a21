"""Pure data contracts (pydantic v2, frozen). No I/O, no framework imports."""

from __future__ import annotations

from glasswatch.schemas.alert import (
    Alert,
    AlertKind,
    AlertStatus,
    Lineage,
    Links,
    Severity,
    fingerprint_of,
)
from glasswatch.schemas.coords import Coord, OffsetRange, partition_key
from glasswatch.schemas.dead_letter import REASONS, DeadLetter
from glasswatch.schemas.events import (
    EPOCH,
    SCHEMA_VERSION,
    BatchEnvelope,
    Event,
    FeatureEvent,
    FeatureValue,
    LabelEvent,
    PredictionEvent,
    Tick,
    TypedEvent,
)

__all__ = [
    "EPOCH",
    "REASONS",
    "SCHEMA_VERSION",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "BatchEnvelope",
    "Coord",
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
    "TypedEvent",
    "fingerprint_of",
    "partition_key",
]
