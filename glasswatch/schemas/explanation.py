"""The explanations topic's contracts: one local explanation, one window's attribution profile.

Both are published by the explain process (:mod:`glasswatch.agents.explain`) to the explanations
topic (settings ``topics.explanations``), told apart by ``type``. An :class:`Explanation` is
additive: ``base_value + sum(attributions.values())`` equals ``model_output`` (within 1e-6 for
tree models; see :mod:`glasswatch.explain.explainers` for the masker's tolerance).

Examples
--------
>>> from datetime import datetime, timezone
>>> e = Explanation(prediction_id="p-1", model="bc", model_version="3", explainer="tree",
...                 sample_reason="sampled", event_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                 base_value=0.6, model_output=0.9, attributions={"a": 0.2, "b": 0.1})
>>> round(e.base_value + sum(e.attributions.values()), 9) == e.model_output, e.type
(True, 'explanation')
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

__all__ = ["AttributionWindow", "ExplainerKind", "Explanation", "SampleReason"]

ExplainerKind = Literal["tree", "masker"]
"""``tree``: ``shap.TreeExplainer`` (exact); ``masker``: a permutation explainer over a seeded
background sample of the reference data."""
SampleReason = Literal["sampled", "anomaly"]
"""Why a prediction was explained: its id fell in the sample, or the anomaly scorer flagged it."""

_Name = Annotated[StrictStr, Field(min_length=1, max_length=256)]


class Explanation(BaseModel):
    """SHAP attributions of one prediction, in the units of ``model_output``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: Literal[1] = 1
    type: Literal["explanation"] = "explanation"
    prediction_id: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    model: _Name
    model_version: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    event_time: datetime
    explainer: ExplainerKind
    sample_reason: SampleReason
    output: Annotated[StrictStr, Field(max_length=64)] = "probability"
    """What is explained: ``probability`` (of the positive class), ``log_odds`` or ``value``."""
    base_value: float
    model_output: float
    """The model's own output for the event (not derived from the attributions)."""
    attributions: dict[_Name, float]


class AttributionWindow(BaseModel):
    """One event-time window's attribution profile of a model version and its comparison with
    the training-time profile (``None`` when the version has none)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: Literal[1] = 1
    type: Literal["attribution_window"] = "attribution_window"
    model: _Name
    model_version: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    start: datetime
    end: datetime
    explanations: Annotated[int, Field(ge=0)]
    mean_abs: dict[_Name, float]
    """Mean |SHAP| per feature over the window's explanations, largest first."""
    mean_signed: dict[_Name, float] = Field(default_factory=dict)
    """Mean SHAP per feature (the sign tells the direction the feature pushed)."""
    rank: dict[_Name, int]
    """1 = the feature the model relied on most in the window."""
    rank_correlation: float | None = None
    """Spearman correlation of the window's ranking with the training ranking."""
    distance: float | None = None
    """L1 distance of the two profiles, each normalised to sum 1 (0 = same shape, 2 = disjoint)."""
    drifted: bool = False
