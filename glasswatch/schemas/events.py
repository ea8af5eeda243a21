"""Event contracts that services publish: predictions, features, labels and batch envelopes.

All models are frozen pydantic v2 models that reject unknown fields, non-finite numbers and
oversized payloads. ``schema_version`` lets the contract evolve: a consumer refuses versions it
does not know (reason ``unknown_schema_version``) instead of guessing.

Examples
--------
>>> from datetime import datetime, timezone
>>> e = PredictionEvent(model="churn", model_version="3", prediction_id="p-1",
...                     event_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                     features={"age": 42.0, "plan": "pro"}, prediction=0.91)
>>> e.type, e.features["age"]
('prediction', 42.0)
>>> PredictionEvent.model_validate_json(e.model_dump_json()) == e
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

__all__ = [
    "MAX_BATCH",
    "MAX_FEATURES",
    "SCHEMA_VERSION",
    "BatchEnvelope",
    "Event",
    "FeatureEvent",
    "FeatureValue",
    "LabelEvent",
    "PredictionEvent",
    "Tick",
]

SCHEMA_VERSION = 1
MAX_FEATURES = 512
MAX_BATCH = 10_000
MAX_TAGS = 32

Name = Annotated[StrictStr, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-/]+$")]
Id = Annotated[StrictStr, Field(min_length=1, max_length=128)]
ShortStr = Annotated[StrictStr, Field(max_length=1024)]
Number = StrictInt | StrictFloat
FeatureValue = StrictBool | StrictInt | StrictFloat | ShortStr | None
"""A feature value: number, category (string), boolean, or ``None`` for missing."""


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("event_time must carry a timezone (use UTC, e.g. 2026-01-01T00:00:00Z)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("schema_version must be the integer 1, not a boolean")
    return value


Version = Annotated[Literal[1], BeforeValidator(_not_bool)]


class _Contract(BaseModel):
    # Strictness is per field (Strict* types) rather than model-wide, so that an ISO-8601 string
    # is still accepted for ``event_time`` when validating already-parsed JSON (batch items).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class PredictionEvent(_Contract):
    """A model's prediction, optionally with its input features inline."""

    schema_version: Version = 1
    type: Literal["prediction"] = "prediction"
    model: Name
    model_version: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    prediction_id: Id
    event_time: AwareDatetime
    features: Annotated[dict[Name, FeatureValue], Field(max_length=MAX_FEATURES)] | None = None
    prediction: Number | ShortStr | None = None
    probabilities: (
        Annotated[dict[Name, Annotated[Number, Field(ge=0.0, le=1.0)]], Field(max_length=256)] | None
    ) = None
    latency_ms: Annotated[Number, Field(ge=0.0)] | None = None
    tags: Annotated[dict[Name, ShortStr], Field(max_length=MAX_TAGS)] = Field(default_factory=dict)


class FeatureEvent(_Contract):
    """Input features of a prediction, for pipelines that log inputs separately."""

    schema_version: Version = 1
    type: Literal["feature"] = "feature"
    model: Name
    prediction_id: Id
    event_time: AwareDatetime
    features: Annotated[dict[Name, FeatureValue], Field(max_length=MAX_FEATURES)]


class LabelEvent(_Contract):
    """Delayed ground truth for an earlier prediction."""

    schema_version: Version = 1
    type: Literal["label"] = "label"
    model: Name
    prediction_id: Id
    event_time: AwareDatetime
    label: Number | ShortStr


Event = Annotated[PredictionEvent | FeatureEvent | LabelEvent, Field(discriminator="type")]


class Tick(_Contract):
    """Control record a glasswatch worker writes into an *idle* input partition so that event
    time moves on (windows close, a silent source raises ``event_rate``) although no events
    arrive. It is in the log, so a replay sees it too. Other consumers should skip ``"tick"``.
    """

    schema_version: Version = 1
    type: Literal["tick"] = "tick"
    event_time: AwareDatetime
    source: Annotated[StrictStr, Field(max_length=128)] = "glasswatch"


class BatchEnvelope(_Contract):
    """Many events in one Kafka message: the fast path (see README, "Throughput")."""

    schema_version: Version = 1
    type: Literal["batch"] = "batch"
    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_BATCH)]
