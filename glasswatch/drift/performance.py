"""Performance and concept drift of one model version, from its labelled predictions.

:class:`PerformanceMonitor` reads the pairs :class:`~glasswatch.drift.labels.LabelJoin` makes, in
join order, and raises two kinds of alert:

* ``performance_drop`` — a window of labelled predictions (every ``window`` pairs, or
  ``window_s`` of label event time with at least ``min_window``) scores worse than the
  reference: the version's registered evaluation metrics (the quality gate's, passed in by the
  caller as a plain dict) or, for a version without any, its first window. Greater-is-better
  metrics fail below ``reference − tolerance``; log loss, MAE and RMSE above
  ``reference × (1 + relative_tolerance)``; calibration error above ``reference + tolerance``.
  It resolves at the first window without a failing metric.
* ``concept_drift`` — an online detector on the per-pair error stream (0/1 for a classifier,
  absolute error for a regressor) finds the error *rose*: ADWIN checked at every pair
  (``clock=1``) or a one-sided Page-Hinkley, after ``warmup`` pairs. It resolves at a window
  close without a detection whose metrics are within tolerance.

Evidence holds the window's metrics, the reference and where it comes from, the detector's
statistic (error rate before and after, window width) and ``inputs_drifted``: ``yes``/``no`` as
the caller says (the data-drift result of the same period) or ``unknown``. Alerts are stamped
with the label event time of the pair that raised them: the same pairs in the same order give
the same alerts and ids. The alerts and their evidence are built in
:mod:`glasswatch.drift.performance_alerts`.

Examples
--------
>>> import random
>>> from glasswatch.drift.labels import Joined
>>> rng = random.Random(7)
>>> def pair(i, wrong):
...     y = rng.random() < 0.5
...     p = y != (rng.random() < wrong)
...     return Joined("churn", "3", f"p{i}", i * 1000, i * 1000 + 60_000, str(int(p)), str(int(y)),
...                   0.9, float(p), float(y))
>>> mon = PerformanceMonitor("churn", "3", registered={"accuracy_score": 0.9},
...                          config=PerformanceConfig(window=500))
>>> for i in range(3000):
...     _ = mon.update(pair(i, wrong=0.1 if i < 1500 else 0.45))
>>> sorted({(a.kind.value, a.status.value) for a in mon.take_alerts()})
[('concept_drift', 'firing'), ('performance_drop', 'firing')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Self

from glasswatch.drift.labels import Joined
from glasswatch.drift.metrics import classification_metrics, regression_metrics
from glasswatch.drift.performance_alerts import (
    detector_state,
    failing_metrics,
    firing_alert,
    resolved_alert,
    window_evidence,
)
from glasswatch.schemas.alert import Alert, AlertKind

__all__ = ["PerformanceConfig", "PerformanceMonitor", "Task"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True, slots=True)
class PerformanceConfig:
    """How performance is judged (one per model; see the module docstring)."""

    task: Task | None = None
    """``None``: inferred from the first pair (classification when the label or prediction is a
    class name, the prediction has a probability, or both are integers; else regression)."""
    positive: str = "1"
    window: int = 1000
    window_s: float | None = None
    min_window: int = 50
    tolerance: float = 0.05
    relative_tolerance: float = 0.2
    detector: Literal["adwin", "page_hinkley"] = "adwin"
    delta: float = 0.002
    """ADWIN's confidence (or Page-Hinkley's magnitude of change allowed)."""
    threshold: float = 25.0
    """Page-Hinkley's threshold (unused by ADWIN)."""
    warmup: int = 200
    bins: int = 10

    def __post_init__(self) -> None:
        if self.window < 1 or self.min_window < 1 or self.warmup < 0 or self.bins < 1:
            raise ValueError("window, min_window and bins must be >= 1, warmup >= 0")
        if self.tolerance < 0 or self.relative_tolerance < 0:
            raise ValueError("tolerances must be >= 0")


def _infer(pair: Joined) -> Task:
    if math.isnan(pair.label_value) or math.isnan(pair.value) or not math.isnan(pair.score):
        return "classification"
    integral = pair.label_value.is_integer() and pair.value.is_integer()
    return "classification" if integral else "regression"


class PerformanceMonitor:
    """Windows of labelled predictions of ``model``/``model_version`` and a detector on their errors."""

    def __init__(
        self,
        model: str,
        model_version: str,
        *,
        registered: dict[str, float] | None = None,
        config: PerformanceConfig | None = None,
    ) -> None:
        self.model = model
        self.model_version = model_version
        self.registered = dict(registered) if registered else None
        self.config = config or PerformanceConfig()
        self.task: Task | None = self.config.task
        self.detector = self._new_detector()
        self.n = 0
        self.windows = 0
        self.metrics: dict[str, float] = {}
        """The last closed window's metrics."""
        self.baseline: dict[str, float] | None = None
        self._rows: list[tuple[str, str, float, float, float]] = []
        self._first_ms = self._last_ms = 0
        self._detected_in_window = False
        self._detected = False
        self._inputs_drifted: bool | None = None
        self._err = (0.0, 0)  # errors since the last detection (Page-Hinkley has no estimate)
        self._open: dict[AlertKind, Alert] = {}
        self._outbox: list[Alert] = []

    def _new_detector(self) -> Any:
        from river import drift  # slow to import: only when a monitor is built

        c = self.config
        if c.detector == "page_hinkley":
            return drift.PageHinkley(
                min_instances=c.warmup or 30, delta=c.delta, threshold=c.threshold, mode="up"
            )
        return drift.ADWIN(delta=c.delta, clock=1)  # type: ignore[no-untyped-call]

    def _estimation(self) -> float:
        if hasattr(self.detector, "estimation"):
            return float(self.detector.estimation)
        total, n = self._err
        return total / n if n else math.nan

    # results --------------------------------------------------------------------------------
    @property
    def drift_detected(self) -> bool:
        """Whether the last update's error made the detector find a rise."""
        return self._detected

    @property
    def reference(self) -> dict[str, float] | None:
        """What windows are compared with: the registered metrics, else the first window's."""
        return self.registered or self.baseline

    @property
    def firing(self) -> frozenset[AlertKind]:
        return frozenset(self._open)

    def take_alerts(self) -> list[Alert]:
        """Alerts raised since the last call (firing and resolved), oldest first."""
        out, self._outbox = self._outbox, []
        return out

    # update ---------------------------------------------------------------------------------
    def update(self, pair: Joined, *, inputs_drifted: bool | None = None) -> Self:
        """Add one labelled prediction; ``inputs_drifted`` is the data-drift verdict of its period
        when the caller knows it (kept until the next one)."""
        if inputs_drifted is not None:
            self._inputs_drifted = inputs_drifted
        if self.task is None:
            self.task = _infer(pair)
        if self.task == "classification":
            error = float(pair.predicted != pair.actual)
        else:
            error = abs(pair.value - pair.label_value)
            error = 0.0 if math.isnan(error) else error
        self.n += 1
        if not self._rows:
            self._first_ms = pair.label_ms
        self._last_ms = pair.label_ms
        self._rows.append((pair.actual, pair.predicted, pair.score, pair.label_value, pair.value))
        before = self._estimation()
        self.detector.update(error)
        self._err = (self._err[0] + error, self._err[1] + 1)
        self._detected = bool(self.detector.drift_detected) and (
            self.config.detector == "page_hinkley" or self._estimation() > before
        )
        if self._detected:
            self._detected_in_window = True
            if self.n >= self.config.warmup and AlertKind.CONCEPT_DRIFT not in self._open:
                self._fire_concept(pair, before)
            self._err = (0.0, 0)
        c = self.config
        span_s = (self._last_ms - self._first_ms) / 1000
        if len(self._rows) >= c.window or (
            c.window_s and span_s >= c.window_s and len(self._rows) >= c.min_window
        ):
            self._close(pair)
        return self

    def _window_metrics(self) -> dict[str, float]:
        actual, predicted, score, label_value, value = zip(*self._rows, strict=True)
        if self.task == "regression":
            return regression_metrics(label_value, value)
        return classification_metrics(
            actual, predicted, score, positive=self.config.positive, bins=self.config.bins
        )

    def _close(self, pair: Joined) -> None:
        metrics = self._window_metrics()
        self.metrics, self.windows = metrics, self.windows + 1
        ref, source = (self.registered, "registered") if self.registered else (self.baseline, "first_window")
        c = self.config
        failing = (
            failing_metrics(metrics, ref, tolerance=c.tolerance, relative_tolerance=c.relative_tolerance)
            if ref
            else []
        )
        evidence = self._evidence(metrics, ref, source) | {"failing": failing}
        if failing and AlertKind.PERFORMANCE_DROP not in self._open:
            names = ", ".join(
                f"{f['metric']} {f['value']:.3f} (reference {f['registered']:.3f})" for f in failing
            )
            self._fire(
                AlertKind.PERFORMANCE_DROP,
                pair,
                f"performance below the {source} version's: {names}",
                evidence,
            )
        elif not failing and AlertKind.PERFORMANCE_DROP in self._open:
            self._resolve(AlertKind.PERFORMANCE_DROP, pair, evidence)
        if AlertKind.CONCEPT_DRIFT in self._open and not self._detected_in_window and not failing:
            self._resolve(AlertKind.CONCEPT_DRIFT, pair, evidence)
        if self.baseline is None and not self.registered:
            self.baseline = metrics
        self._rows, self._detected_in_window = [], False

    # alerts ---------------------------------------------------------------------------------
    def _evidence(
        self, metrics: dict[str, float], ref: dict[str, float] | None, source: str
    ) -> dict[str, Any]:
        c = self.config
        return window_evidence(
            task=self.task, metrics=metrics, reference=ref, source=source, tolerance=c.tolerance,
            relative_tolerance=c.relative_tolerance, labelled=len(self._rows), first_ms=self._first_ms,
            last_ms=self._last_ms, detector=self._detector_state(), inputs_drifted=self._inputs_drifted,
        )  # fmt: skip

    def _detector_state(self, before: float | None = None) -> dict[str, Any]:
        return detector_state(self.detector, delta=self.config.delta, labelled=self.n,
                              error_rate=self._estimation(), before=before)  # fmt: skip

    def _fire_concept(self, pair: Joined, before: float) -> None:
        ref = self.registered or self.baseline
        evidence = self._evidence(self.metrics, ref, "registered" if self.registered else "first_window")
        evidence["detector"] = self._detector_state(before)
        after = self._estimation()
        unit = "error rate" if self.task == "classification" else "mean absolute error"
        rise = f"rose from {before:.3f} to {after:.3f}" if math.isfinite(before) else f"rose to {after:.3f}"
        summary = f"{unit} {rise} (detector on {self.n} labelled predictions)"
        self._fire(AlertKind.CONCEPT_DRIFT, pair, summary, evidence)

    def _fire(self, kind: AlertKind, pair: Joined, summary: str, evidence: dict[str, Any]) -> None:
        alert = firing_alert(kind, model=self.model, model_version=self.model_version, summary=summary,
                             at_ms=pair.label_ms, evidence=evidence)  # fmt: skip
        self._open[kind] = alert
        self._outbox.append(alert)

    def _resolve(self, kind: AlertKind, pair: Joined, evidence: dict[str, Any]) -> None:
        opened = self._open.pop(kind)
        self._outbox.append(
            resolved_alert(opened, model_version=self.model_version, at_ms=pair.label_ms, evidence=evidence)
        )
