"""Drift alerts: ``data_drift``, ``feature_drift``, ``prediction_drift`` and ``no_reference``.

:class:`DriftAlerts` keeps the open drift conditions of every model and turns each drift run
(:class:`DriftOutcome`) into alerts, like the monitors do for their signals: a condition fires
once when it appears (one open alert per fingerprint) and resolves at the first later drift
window without it. Times are the drift window's event time (``starts_at`` = the end of the
window that found it, ``ends_at`` = the end of the window that cleared it), so the same runs in
the same order give the same alerts, ids included.

* ``data_drift`` (warning, signal ``drift:dataset``): the share of drifted columns reached the
  spec's ``drift_share``; evidence ranks the drifted columns by drift strength.

Importance: when the reference carries the model's global importance (``Reference.importance``:
mean |SHAP| or impurity importance logged by ``glasswatch train``, passed in as
:attr:`DriftOutcome.importance`), ``data_drift`` evidence also lists the drifted features ranked
by importance (``drifted_features``: ``feature``, ``importance``, ``importance_rank``,
``strength``; ``score`` is the importance) and names the most important one (``feature``,
``importance_rank``, ``feature_importance_ranks``), which is what the router's severity rule
(:func:`glasswatch.alerting.severity_rules.top_feature_drift`) reads: drift on a feature the
model relies on (a top-3 rank) is critical, on one it ignores it stays a warning. Ranks count
only features with importance > 0 (rank 1 = most important); a feature the model ignores has
no rank. ``feature_drift`` evidence carries its column's ``importance`` and ``importance_rank``.
* ``feature_drift`` (info, ``feature:<column>:drift``): one per *confirmed* drifted column.
  Evidently's per-column verdicts (one test each at its threshold: 5 % of clean columns flag
  at the default 0.05) are the evidence; a column is alerted only when its drift survives the
  Benjamini–Hochberg correction across the window's p-value-tested columns at its threshold (a
  distance test: the distance reaches its threshold) and is confirmed by the previous drift
  window, by dataset drift in the same window, or by overwhelming evidence (adjusted p-value
  ``<= threshold × 1e-4``, distance ``>= 2 ×`` threshold): :mod:`glasswatch.drift.confirm`. A
  clean stream raises none; a strongly shifted column is alerted in its first window.
* ``prediction_drift`` (warning, ``prediction:drift``): the prediction's distribution moved.
* ``no_reference`` (warning, ``reference``): the model version has no registered reference;
  raised once per model while it lasts, resolved by the first drift run that has one.

Every alert carries the MLflow run of the drift run (``lineage.mlflow_run_id``,
``links.mlflow_run``, ``evidence.report_url`` for the Evidently HTML report), the reference
digest, the window's offsets and ``glasswatch drift rerun <run id>`` as its replay command.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from datetime import datetime, timezone
>>> from glasswatch.drift.job import run_drift
>>> from glasswatch.drift.spec import DriftSpec
>>> from glasswatch.drift.window import DriftWindow
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
>>> cur = pd.DataFrame({"x": rng.normal(2, 1, size=300), "y": rng.normal(size=300)})
>>> day = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> w = DriftWindow(model="m", model_version="1", offsets=(), start=day, end=day.replace(day=2))
>>> r = run_drift(ref, cur, DriftSpec(), report=False)
>>> alerts = DriftAlerts().update(DriftOutcome(w, r, reference_sha256="ab" * 32, run_id="r1")).alerts
>>> [(a.kind.value, a.signal, a.status.value) for a in alerts]
[('data_drift', 'drift:dataset', 'firing'), ('feature_drift', 'feature:x:drift', 'firing')]
>>> alerts[0].evidence["drifted_columns"][0]["column"], alerts[0].replay_command
('x', 'glasswatch drift rerun r1')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from glasswatch.drift.confirm import confirmed, confirmed_by, significant, verdicts
from glasswatch.drift.job import ColumnResult, DriftResult
from glasswatch.drift.window import DriftWindow
from glasswatch.schemas.alert import Alert, AlertKind, AlertStatus, Lineage, Severity, http_link

__all__ = ["DATASET_SIGNAL", "PREDICTION_SIGNAL", "REFERENCE_SIGNAL", "DriftAlerts", "DriftOutcome",
           "feature_signal", "importance_ranks"]

DATASET_SIGNAL = "drift:dataset"
PREDICTION_SIGNAL = "prediction:drift"
REFERENCE_SIGNAL = "reference"
_MAX_COLUMNS = 50


def feature_signal(column: str) -> str:
    """``feature:<column>:drift``."""
    return f"feature:{column}:drift"


@dataclass(frozen=True)
class DriftOutcome:
    """One drift run: the window, what the job found and where it was recorded."""

    window: DriftWindow
    result: DriftResult
    reference_sha256: str
    run_id: str | None = None
    run_url: str | None = None
    report_url: str | None = None
    config_hash: str | None = None
    importance: Mapping[str, float] | None = None
    """The model version's global importance per feature (``Reference.importance``), if known."""


def importance_ranks(importance: Mapping[str, float]) -> dict[str, int]:
    """1-based rank of every feature with importance > 0, largest first, ties by name.

    >>> importance_ranks({"a": 0.1, "b": 0.4, "c": 0.0})
    {'b': 1, 'a': 2}
    """
    used = sorted(((f, v) for f, v in importance.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    return {f: i for i, (f, _) in enumerate(used, start=1)}


def _by_importance(drifted: Sequence[ColumnResult], importance: Mapping[str, float]) -> dict[str, Any]:
    ranks = importance_ranks(importance)
    ordered = sorted(drifted, key=lambda c: (ranks.get(c.column, len(ranks) + 1), -c.strength, c.column))
    listed = [{"feature": c.column, "importance": float(importance.get(c.column, 0.0)),
               "score": float(importance.get(c.column, 0.0)), "importance_rank": ranks.get(c.column),
               "strength": round(c.strength, 6)} for c in ordered[:_MAX_COLUMNS]]
    out: dict[str, Any] = {"drifted_features": listed, "feature_importance_ranks": ranks}
    if ordered and ordered[0].column in ranks:
        out |= {"feature": ordered[0].column, "importance_rank": ranks[ordered[0].column]}
    return out


def _col(c: ColumnResult) -> dict[str, Any]:
    return {"column": c.column, "method": c.method, "score": c.score, "score_kind": c.score_kind,
            "threshold": c.threshold, "strength": round(c.strength, 6), "issues": list(c.issues)}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _http(url: str | None) -> str | None:
    try:
        return http_link(url) if url else None
    except ValueError:
        return None


class DriftAlerts:
    """Open drift conditions → firing and resolved alerts (river-shaped, see the module docstring)."""

    def __init__(self) -> None:
        self._open: dict[str, Alert] = {}
        self._alerts: tuple[Alert, ...] = ()
        self._significant: dict[str, frozenset[str]] = {}
        """Per model, the columns significant in its last drift window (the hysteresis)."""

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The alerts of the last update, firing ones first."""
        return self._alerts

    @property
    def open(self) -> tuple[Alert, ...]:
        return tuple(self._open[k] for k in sorted(self._open))

    def update(self, outcome: DriftOutcome) -> Self:
        """Account one drift run (a skipped one changes nothing)."""
        w, r = outcome.window, outcome.result
        if r.skipped is not None:
            self._alerts = ()
            return self
        wanted = self._conditions(outcome)
        firing = [a for a in wanted if a.fingerprint not in self._open]
        keys = {a.fingerprint for a in wanted}
        resolved = [self._resolve(a, outcome) for fp, a in sorted(self._open.items())
                    if a.model == w.model and fp not in keys]
        for a in firing:
            self._open[a.fingerprint] = a
        for a in resolved:
            del self._open[a.fingerprint]
        self._significant[w.model] = significant(r)
        self._alerts = (*firing, *resolved)
        return self

    @staticmethod
    def clears(result: DriftResult) -> bool:
        """After a run with this result nothing of its model is open or awaiting confirmation
        (no significant column, no dataset or prediction drift), whatever came before: a
        restarted agent rebuilds its state by replaying the runs after the last such one."""
        p = result.prediction
        return result.skipped is None and not significant(result) and not result.dataset_drift and not (
            p is not None and p.drifted)

    def no_reference(self, window: DriftWindow, reason: str) -> Self:
        """``window``'s model version has no reference: alert once per model while it lasts."""
        alert = Alert.build(
            kind=AlertKind.NO_REFERENCE, severity=Severity.WARNING, model=window.model,
            signal=REFERENCE_SIGNAL, starts_at=window.end,
            summary=f"no reference data set registered for {window.model} v{window.model_version}: "
                    "data drift is not checked",
            evidence={"model_version": window.model_version, "reason": reason,
                      "register_command": f"glasswatch reference register {window.model} "
                                          f"{window.model_version} FILE|RUN_ID",
                      "window": self._window(window)},
            lineage=Lineage(model_version=window.model_version, offsets=window.offsets),
            replay_command=window.replay_command(),
        )
        fresh = alert.fingerprint not in self._open
        if fresh:
            self._open[alert.fingerprint] = alert
        self._alerts = (alert,) if fresh else ()
        return self

    @staticmethod
    def _window(w: DriftWindow) -> dict[str, Any]:
        return {"id": w.id, "start": w.start.isoformat(), "end": w.end.isoformat(), "rows": w.rows,
                "monitor_windows": w.windows}

    def _common(self, o: DriftOutcome) -> dict[str, Any]:
        w = o.window
        return {
            "model": w.model,
            "starts_at": w.end,
            "lineage": Lineage(model_version=w.model_version, mlflow_run_id=o.run_id,
                               reference_digest=o.reference_sha256, offsets=w.offsets,
                               config_hash=o.config_hash),
            "replay_command": f"glasswatch drift rerun {o.run_id}" if o.run_id else w.replay_command(),
            "mlflow_run_url": _http(o.run_url),
        }

    def _evidence(self, o: DriftOutcome) -> dict[str, Any]:
        r = o.result
        return {"window": self._window(o.window), "mlflow_run_id": o.run_id, "run_url": o.run_url,
                "report_url": o.report_url, "reference_sha256": o.reference_sha256,
                "rows_current": r.rows_current, "rows_reference": r.rows_reference,
                "window_replay_command": o.window.replay_command()}

    def _conditions(self, o: DriftOutcome) -> list[Alert]:
        r, common, base = o.result, self._common(o), self._evidence(o)
        out: list[Alert] = []
        drifted = r.drifted
        tested = sum(c.tested for c in r.columns)
        ranked = _by_importance(drifted, o.importance) if o.importance else {}
        if r.dataset_drift:
            names = ", ".join(c.column for c in drifted[:5]) + ("…" if len(drifted) > 5 else "")
            if "feature" in ranked:
                names += f"; most important: {ranked['feature']} (rank {ranked['importance_rank']})"
            out.append(Alert.build(
                kind=AlertKind.DATA_DRIFT, severity=Severity.WARNING, signal=DATASET_SIGNAL,
                summary=f"data drift: {len(drifted)} of {tested} columns drifted "
                        f"({r.share_drifted:.0%} >= {r.drift_share:.0%}): {names}",
                evidence=base | {
                    "drifted_columns": [_col(c) for c in drifted[:_MAX_COLUMNS]],
                    "ranked_by": "drift strength (threshold / p-value, or distance / threshold)",
                    "share_drifted": r.share_drifted, "drift_share": r.drift_share,
                    "columns_tested": tested,
                    "quality_issues": {k: list(v) for k, v in r.quality_issues.items()},
                } | ranked,
                **common,
            ))
        previous = self._significant.get(o.window.model, frozenset())
        by_name, checks = {c.column: c for c in r.columns}, verdicts(r)
        for name in confirmed(r, previous):
            c, v = by_name[name], checks[name]
            out.append(Alert.build(
                kind=AlertKind.FEATURE_DRIFT, severity=Severity.INFO, signal=feature_signal(c.column),
                summary=f"{c.column} drifted: {c.method} {_fmt(c.score)} vs threshold {_fmt(c.threshold)}",
                evidence=base | {"column": _col(c) | c.model_dump(mode="json"),
                                 "adjusted_p_value": v.adjusted_p,
                                 "confirmed_by": confirmed_by(v, r, previous)}
                         | self._importance_of(c.column, o.importance),
                **common,
            ))
        p = r.prediction
        if p is not None and p.drifted:
            out.append(Alert.build(
                kind=AlertKind.PREDICTION_DRIFT, severity=Severity.WARNING, signal=PREDICTION_SIGNAL,
                summary=f"prediction drifted: {p.method} {_fmt(p.score)} vs threshold {_fmt(p.threshold)}",
                evidence=base | {"prediction": p.model_dump(mode="json")}, **common,
            ))
        return out

    @staticmethod
    def _importance_of(column: str, importance: Mapping[str, float] | None) -> dict[str, Any]:
        if not importance:
            return {}
        return {"importance": float(importance.get(column, 0.0)),
                "importance_rank": importance_ranks(importance).get(column)}

    def _resolve(self, a: Alert, o: DriftOutcome) -> Alert:
        common = self._common(o) | {"starts_at": a.starts_at}
        return Alert.build(
            kind=a.kind, severity=a.severity, signal=a.signal, status=AlertStatus.RESOLVED,
            ends_at=o.window.end, summary=f"resolved: {a.summary}",
            evidence=self._evidence(o) | {"share_drifted": o.result.share_drifted}, **common,
        )
