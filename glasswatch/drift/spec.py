"""Drift specs: when a drift window closes and how the drift job decides, per model.

A :class:`DriftSpec` is the optional ``drift:`` mapping of a model's monitor spec YAML::

    model: churn
    window: {size_seconds: 60}
    drift:
      period_windows: 10          # a drift window = 10 monitor windows (event time) ...
      max_rows: 50000             # ... or this many rows, whichever comes first
      min_rows: 200               # fewer rows: the drift window stays open
      columns: [age, plan]        # default: every feature column of the reference
      categorical: [plan]         # default: by the reference's dtypes
      drift_share: 0.5            # dataset drift when this share of columns drifted
      method: null                # Evidently's default: test chosen by column type and size
      threshold: null
      per_column: {age: {method: psi, threshold: 0.2}}
      performance:                # the label join (labelled predictions, concept drift)
        window: 1000              # labelled predictions per performance window
        tolerance: 0.05           # below the registered metric by more: performance_drop
        detector: adwin           # or page_hinkley, on the per-prediction error stream

Everything has a default (Evidently's own where Evidently has one), so a model without a
``drift:`` section is watched with ``DriftSpec()``. :func:`load_drift_specs` reads the section
from the same YAML files as the monitor specs (one ``---`` document per model); errors raise
:class:`~glasswatch.errors.ConfigError` naming the file, the model and the field.

Examples
--------
>>> spec = drift_spec_of({"period_windows": 5, "per_column": {"age": {"method": "psi"}}})
>>> spec.period_windows, spec.column("age").method, spec.column("plan").method
(5, 'psi', None)
>>> drift_spec_of({"performance": {"window": 300}}).performance.window
300
>>> drift_spec_of({"drift_share": 2}, source="m.yaml")
Traceback (most recent call last):
...
glasswatch.errors.ConfigError: m.yaml: drift.drift_share: Input should be less than or equal to 1
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from glasswatch.drift.performance import PerformanceConfig
from glasswatch.errors import ConfigError

__all__ = ["ColumnDriftSpec", "DriftSpec", "QualitySpec", "drift_spec_of", "load_drift_specs"]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnDriftSpec(_Spec):
    """Evidently stat test (``ks``, ``wasserstein``, ``psi``, ``chisquare``, ``jensenshannon``, ...)
    and threshold of one column; ``None`` keeps Evidently's choice."""

    method: str | None = Field(default=None, min_length=1)
    threshold: float | None = Field(default=None, gt=0)


class QualitySpec(_Spec):
    """When a data-quality finding counts as an issue (reported in the drift evidence)."""

    max_out_of_range_share: float = Field(default=0.01, ge=0, le=1)
    """Share of a numeric column's values outside the reference's ``[min, max]``."""
    max_missing_increase: float = Field(default=0.05, ge=0, le=1)
    """Missing share of a column above the reference's by more than this."""
    max_new_category_share: float = Field(default=0.0, ge=0, le=1)
    """Share of a categorical column's values in categories the reference never had."""


class DriftSpec(_Spec):
    """How one model's drift windows close and are judged (see the module docstring)."""

    period_windows: int = Field(default=10, ge=1)
    max_rows: int | None = Field(default=None, ge=1)
    min_rows: int = Field(default=100, ge=1)
    columns: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    method: str | None = Field(default=None, min_length=1)
    threshold: float | None = Field(default=None, gt=0)
    per_column: dict[str, ColumnDriftSpec] = Field(default_factory=dict)
    drift_share: float = Field(default=0.5, gt=0, le=1)
    prediction: bool = True
    """Also test the prediction column (``prediction_drift``)."""
    quality: QualitySpec = QualitySpec()
    performance: PerformanceConfig = Field(default=PerformanceConfig(), exclude=True)
    """How the label join judges the model's performance (window of labelled predictions,
    tolerances against the registered metrics, the concept-drift detector; see
    :class:`~glasswatch.drift.performance.PerformanceConfig`). Not part of :meth:`config_hash`:
    it does not change what a drift window finds."""

    def column(self, name: str) -> ColumnDriftSpec:
        """The column's own method and threshold, else the spec-wide ones."""
        own = self.per_column.get(name)
        return ColumnDriftSpec(
            method=own.method if own and own.method else self.method,
            threshold=own.threshold if own and own.threshold else self.threshold,
        )

    def config_hash(self) -> str:
        """Stable hash of the spec (goes into the drift alerts' lineage)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def drift_spec_of(mapping: Mapping[str, Any] | None, *, source: str = "<drift spec>") -> DriftSpec:
    """Validate a monitor spec's ``drift:`` mapping (``None``: the defaults)."""
    if mapping is None:
        return DriftSpec()
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{source}: drift: expected a mapping, got {type(mapping).__name__}")
    try:
        return DriftSpec.model_validate(dict(mapping))
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{source}: drift.{where}: {err['msg']}") from None


def load_drift_specs(path: str | Path) -> dict[str, DriftSpec]:
    """The ``drift:`` section of every model of a monitor spec file, or of every ``*.yaml`` /
    ``*.yml`` file of a folder (models without one get the defaults)."""
    p = Path(path)
    files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p]
    out: dict[str, DriftSpec] = {}
    for f in files:
        try:
            docs = list(yaml.safe_load_all(f.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError(f"{f}: cannot read spec file: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{f}: invalid YAML: {exc}") from None
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("model"), str):
                raise ConfigError(f"{f}: every spec document needs a 'model' name")
            out[doc["model"]] = drift_spec_of(doc.get("drift"), source=f"{f} (model {doc['model']})")
    return out
