"""The data-drift verdict of a model version's latest drift window, for the label join.

``concept_drift`` and ``performance_drop`` alerts say whether the inputs drifted in the same
period (``inputs_drifted: yes|no|unknown``): a performance fall with unchanged inputs is a
concept change, one with drifted inputs may be the inputs' doing. The drift process
(:mod:`glasswatch.agents.drift`) knows the answer, the label join runs in the worker: after each
drift run the drift process writes a :class:`DriftVerdict` to a compacted topic
(``TopicSettings.drift_verdicts``, key :func:`verdict_key`), and the worker's label join
follows it into a :class:`VerdictBook`.

``drifted`` is the *confirmed* dataset-level condition (a ``data_drift`` alert firing for the
version after this window), not Evidently's raw per-window flag, so it agrees with what the
on-call engineer sees. The book keeps, per version, the verdict of the latest window by event
time (a late-arriving record of an older window does not overwrite a newer one); a version
without any verdict is ``unknown`` (``None``). The verdict a labelled prediction gets depends on
when the drift run finished, so it is evidence, never part of an alert's identity.

Everything here may be written by anyone who can write the topic: fields are bounded and the
label join skips a record that does not validate.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> old = DriftVerdict(model="churn", model_version="3", window_id="a" * 16, window_end=t,
...                    drifted=True, columns=("age",))
>>> new = old.model_copy(update={"window_id": "b" * 16, "window_end": t + timedelta(hours=1),
...                              "drifted": False, "columns": ()})
>>> book = VerdictBook().update(new).update(old)   # the older window arrives last
>>> book.inputs_drifted("churn", "3"), book.inputs_drifted("churn", "4")
(False, None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Self

import pydantic
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

if TYPE_CHECKING:  # the worker imports this module: no pandas/Evidently on its import path
    from glasswatch.drift.job import DriftResult
    from glasswatch.drift.window import DriftWindow

__all__ = ["DriftVerdict", "VerdictBook", "parse_verdict", "verdict_key", "verdict_of"]

_Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def verdict_key(model: str, model_version: str) -> str:
    """The record key of a version's verdicts (model and version, unit-separated)."""
    return f"{model}\x1f{model_version}"


class DriftVerdict(BaseModel):
    """One drift window's verdict for ``(model, model_version)``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    schema_version: Literal[1] = 1
    model: _Name
    model_version: _Name
    window_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
    window_end: AwareDatetime
    drifted: bool
    """A ``data_drift`` alert is firing for the version after this window."""
    columns: tuple[_Name, ...] = Field(default=(), max_length=200)
    """The drifted columns of the window, strongest first."""
    run_id: Annotated[str, StringConstraints(max_length=64)] | None = None

    @property
    def key(self) -> str:
        return verdict_key(self.model, self.model_version)


def verdict_of(window: DriftWindow, result: DriftResult, run_id: str | None = None) -> DriftVerdict | None:
    """The verdict of one drift run (None for a window without a model version: nothing to
    join it with). ``drifted`` is the window's dataset drift, which is exactly when
    :class:`~glasswatch.drift.alerts.DriftAlerts` keeps ``data_drift`` firing for the model."""
    if window.model_version is None:
        return None
    columns = tuple(c.column for c in result.drifted if len(c.column) <= 256)[:200]
    return DriftVerdict(model=window.model, model_version=window.model_version, window_id=window.id,
                        window_end=window.end, drifted=result.dataset_drift, columns=columns,
                        run_id=run_id if run_id and len(run_id) <= 64 else None)  # fmt: skip


def parse_verdict(raw: bytes | None) -> DriftVerdict | None:
    """The verdict in a record value; None for a tombstone or a record that does not validate."""
    if raw is None:
        return None
    try:
        return DriftVerdict.model_validate_json(raw)
    except pydantic.ValidationError:
        return None


class VerdictBook:
    """Latest verdict per model version (river-shaped: :meth:`update` returns self)."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._latest: dict[str, DriftVerdict] = {}

    def __len__(self) -> int:
        return len(self._latest)

    def update(self, verdict: DriftVerdict) -> Self:
        current = self._latest.get(verdict.key)
        if current is not None and current.window_end > verdict.window_end:
            return self
        if current is None and len(self._latest) >= self.capacity:  # bounded: forget the oldest
            del self._latest[min(self._latest, key=lambda k: self._latest[k].window_end)]
        self._latest[verdict.key] = verdict
        return self

    def get(self, model: str, model_version: str) -> DriftVerdict | None:
        return self._latest.get(verdict_key(model, model_version))

    def inputs_drifted(self, model: str, model_version: str) -> bool | None:
        """The version's latest verdict: True/False, or None when no drift run reported one."""
        found = self.get(model, model_version)
        return None if found is None else found.drifted
