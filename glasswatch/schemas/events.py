"""Event contracts that services publish: predictions, features, labels and batch envelopes.

All models are frozen pydantic v2 models that reject unknown fields, non-finite numbers and
oversized payloads. ``schema_version`` lets the contract evolve: a consumer refuses versions it
does not know (reason ``unknown_schema_version``) instead of guessing.

**Numbers** a producer writes (feature values, ``prediction``, ``label``, ``latency_ms``,
probabilities) are finite and at most :data:`MAX_ABS` (``1e100``) in magnitude, integers included
(an integer literal of 400 digits never reaches ``float()``); anything else is refused as
``out_of_range``. Why ``1e100``: the window aggregates square values and sum the squares over up
to ~1e9 events per pane, so ``(2 * MAX_ABS) ** 2 * 1e9 = 4e209`` must stay below the float64
maximum (``1.8e308``), with about 1e99 of headroom left for a product of two such statistics.

**Names**. Feature names and probability class names (:data:`FeatureName`) are the names real
data sets use: 1 to 128 characters of printable Unicode, spaces and punctuation included
(``mean radius``, ``Größe (cm)``, ``a:b``); refused are control characters (C0, DEL, C1), bidi
controls, line separators, lone surrogates (what :func:`~glasswatch.schemas.text.printable`
would escape) and leading or trailing whitespace (what ``str.strip`` would remove). The model
name and tag keys (:data:`Name`) stay identifiers (letters, digits and ``_ . : - /``): the model
name goes into Kafka keys, URLs, metric labels, MLflow experiment names and shell commands.

**event_time** is an ISO-8601 / RFC 3339 string with seconds and an explicit offset (``Z`` or
``±hh:mm``), e.g. ``2026-01-01T00:00:00Z`` (:data:`ISO_DATETIME`); integers, numeric strings and
naive times are refused. A timezone-aware ``datetime`` is accepted when built from Python.

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
>>> PredictionEvent(model="bc", model_version="1", prediction_id="p-2", event_time=e.event_time,
...                 features={"mean radius": 14.1, "Größe (cm)": 180}).features["mean radius"]
14.1
>>> import pydantic
>>> for bad in (" age", "age ", "a\\tb", "x\\u202ey"):
...     try:
...         FeatureEvent(model="churn", prediction_id="p-1", event_time=e.event_time, features={bad: 1})
...     except pydantic.ValidationError as exc:
...         print(ascii(bad), exc.errors()[0]["type"])
' age' string_pattern_mismatch
'age ' string_pattern_mismatch
'a\\tb' string_pattern_mismatch
'x\\u202ey' string_pattern_mismatch
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "EPOCH",
    "FEATURE_NAME_PATTERN",
    "ISO_DATETIME",
    "MAX_ABS",
    "MAX_BATCH",
    "MAX_FEATURES",
    "MAX_INT",
    "MAX_NAME",
    "MAX_TAGS",
    "NAME_PATTERN",
    "SCHEMA_VERSION",
    "AwareDatetime",
    "BatchEnvelope",
    "Event",
    "FeatureEvent",
    "FeatureName",
    "FeatureValue",
    "Id",
    "LabelEvent",
    "Message",
    "Name",
    "NonNegative",
    "Number",
    "PredictionEvent",
    "Probability",
    "ShortStr",
    "Tick",
    "TypedEvent",
    "Version",
]

SCHEMA_VERSION = 1
MAX_FEATURES = 512
MAX_BATCH = 10_000
MAX_TAGS = 32
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The Unix epoch (UTC): event-time milliseconds count from it."""

MAX_ABS = 1e100
"""Largest magnitude of a float a producer may write (see the module docstring for why)."""
MAX_INT = 10**100
"""Largest magnitude of an integer a producer may write (the same bound, exact)."""
NAME_PATTERN = r"^[A-Za-z0-9_.:\-/]+$"
"""Model names and tag keys: letters, digits and ``_ . : - /``."""
MAX_NAME = 128
"""Longest name, in characters (code points)."""

# What a feature name may not hold, as regex class ranges (Python ``re``, Rust ``regex`` and
# ECMA-262 with the ``u`` flag read them alike): C0 controls, DEL and C1 controls; bidi controls
# (ALM, LRM, RLM, embeddings, overrides, isolates) and the line and paragraph separators, i.e.
# what ``schemas.text.printable`` escapes; and, at either end, Unicode whitespace (what
# ``str.strip`` removes that is not already a control).
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_SPACES = r" \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_SURROGATES = r"\ud800-\udfff"


def _name_pattern(refused: str) -> str:
    inner, edge = f"[^{refused}]", f"[^{refused}{_SPACES}]"
    return f"^{edge}(?:{inner}*{edge})?$"


FEATURE_NAME_PATTERN = _name_pattern(_CONTROLS + _SURROGATES)
"""Feature and class names (:data:`FeatureName`), as the JSON Schema states it: printable Unicode
with inner spaces; no control, bidi or separator character, lone surrogate or edge whitespace."""
_FEATURE_NAME_NATIVE = _name_pattern(_CONTROLS)
# pydantic-core's Rust ``regex`` refuses a surrogate range (not Unicode scalar values); a string
# holding a lone surrogate never reaches the pattern there (``\ud800`` in JSON is invalid JSON,
# and a Python str with one fails as ``string_unicode``), so the rule is the same.
ISO_DATETIME = (
    r"^(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""The form of ``event_time`` (RFC 3339 ``date-time``: seconds and an explicit offset required)."""

Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]
"""A model name or tag key (:data:`NAME_PATTERN`)."""
FeatureName = Annotated[
    StrictStr,
    Field(min_length=1, max_length=MAX_NAME, pattern=_FEATURE_NAME_NATIVE),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": FEATURE_NAME_PATTERN}
    ),
]
"""A feature or probability class name: a data set's column name as it is (see the module
docstring, "Names"; :data:`FEATURE_NAME_PATTERN`). Compared exactly (no Unicode normalisation)."""
Id = Annotated[StrictStr, Field(min_length=1, max_length=128)]
ShortStr = Annotated[StrictStr, Field(max_length=1024)]
# Bounds on each member (not on the union): pydantic-core checks them natively, on the fast path
# too, and the JSON Schema carries them as minimum/maximum.
Number = (
    Annotated[StrictInt, Field(ge=-MAX_INT, le=MAX_INT)]
    | Annotated[StrictFloat, Field(ge=-MAX_ABS, le=MAX_ABS)]
)
"""A finite number of magnitude at most ``1e100`` (integers included)."""
NonNegative = (
    Annotated[StrictInt, Field(ge=0, le=MAX_INT)] | Annotated[StrictFloat, Field(ge=0.0, le=MAX_ABS)]
)
"""A :data:`Number` that is not negative (``latency_ms``)."""
Probability = Annotated[StrictInt, Field(ge=0, le=1)] | Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
"""A number in ``[0, 1]``."""
FeatureValue = (
    StrictBool
    | Annotated[StrictInt, Field(ge=-MAX_INT, le=MAX_INT)]
    | Annotated[StrictFloat, Field(ge=-MAX_ABS, le=MAX_ABS)]
    | ShortStr
    | None
)
"""A feature value: number (see :data:`Number`), category (string), boolean, or ``None`` for missing."""


class _IsoDatetime:
    """``event_time``'s core schema, native end to end (no Python call per event): from JSON only
    a string of the :data:`ISO_DATETIME` form (its offset makes it aware), from Python also an
    aware ``datetime``."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from_text = core_schema.chain_schema(
            [core_schema.str_schema(pattern=ISO_DATETIME), core_schema.datetime_schema(tz_constraint="aware")]
        )
        aware = core_schema.datetime_schema(strict=True, tz_constraint="aware")
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.union_schema([aware, from_text]),
            serialization=aware.get("serialization"),
        )


AwareDatetime = Annotated[
    datetime,
    _IsoDatetime,
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": ISO_DATETIME}),
]
"""A timezone-aware time: an ISO-8601 string with an offset (:data:`ISO_DATETIME`) in JSON."""


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
    features: Annotated[dict[FeatureName, FeatureValue], Field(max_length=MAX_FEATURES)] | None = None
    prediction: Number | ShortStr | None = None
    probabilities: Annotated[dict[FeatureName, Probability], Field(max_length=256)] | None = None
    latency_ms: NonNegative | None = None
    tags: Annotated[dict[Name, ShortStr], Field(max_length=MAX_TAGS)] = Field(default_factory=dict)


class FeatureEvent(_Contract):
    """Input features of a prediction, for pipelines that log inputs separately."""

    schema_version: Version = 1
    type: Literal["feature"] = "feature"
    model: Name
    prediction_id: Id
    event_time: AwareDatetime
    features: Annotated[dict[FeatureName, FeatureValue], Field(max_length=MAX_FEATURES)]


class LabelEvent(_Contract):
    """Delayed ground truth for an earlier prediction."""

    schema_version: Version = 1
    type: Literal["label"] = "label"
    model: Name
    prediction_id: Id
    event_time: AwareDatetime
    label: Number | ShortStr


TypedEvent = PredictionEvent | FeatureEvent | LabelEvent
"""A validated event, as the monitors consume it (batches unpacked, ticks set apart)."""
Event = Annotated[TypedEvent, Field(discriminator="type")]
"""The same, as a discriminated union for validation (on ``type``)."""


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


Message = Annotated[TypedEvent | BatchEnvelope, Field(discriminator="type")]
"""Any message a producer may send to an input topic (ticks are the worker's own)."""
