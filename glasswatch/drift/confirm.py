"""Which drifted columns deserve a ``feature_drift`` alert: a multiple-testing correction across
the window's columns, then confirmation across drift windows.

Evidently's per-column verdict (``ColumnResult.drifted``) is a single test at its threshold: a
p-value test (K-S, chi-square, z, ... for a reference of at most 1,000 rows) flags 5 % of clean
columns at the default 0.05, so a 20-column clean window raises a false alarm in most windows.
Those verdicts stay the *evidence* (and drive Evidently's dataset-level ``data_drift`` rule);
a column is *alerted* only when

1. its drift is **significant in the window**: for a p-value test, its Benjamini–Hochberg
   adjusted p-value over the window's p-value-tested columns is at or below its threshold (the
   threshold becomes the window's false discovery rate); for a distance test (Wasserstein,
   Jensen-Shannon, PSI, ..., where Evidently's threshold is a distance), the distance reaches
   the threshold (Evidently's own verdict); and
2. it is **confirmed**: it was also significant in the model's previous drift window
   (hysteresis), or the window drifted as a whole (Evidently's dataset rule, which already
   speaks for its columns), or the evidence is overwhelming on its own — an adjusted p-value
   at or below ``threshold × OVERWHELMING_P`` or a distance at least ``OVERWHELMING_DISTANCE``
   times the threshold — so a strongly shifted column is alerted in the first window.

Why both steps: Benjamini–Hochberg alone still fires in about ``threshold`` of clean windows
(with no drift at all it is Simes' test of the window: 4 of the unit test's 50 clean 20-column
windows against one 1,000-row reference), and a finite reference makes the same column look
off window after window (one column flagged raw in 20 of 50), so persistence of the raw verdict
does not help either. Together: 0 alerts in those 50 windows (1,000 column tests, 59 raw
Evidently flags), a column shifted by half a standard deviation alerted in its first window, a
quarter of one in its second.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from glasswatch.drift.job import run_drift
>>> from glasswatch.drift.spec import DriftSpec
>>> rng = np.random.default_rng(1)
>>> ref = pd.DataFrame({f"c{i}": rng.normal(size=500) for i in range(10)})
>>> cur = pd.DataFrame({f"c{i}": rng.normal(0.5 if i == 0 else 0, 1, 500) for i in range(10)})
>>> r = run_drift(ref, cur, DriftSpec(), report=False)
>>> [v.column for v in verdicts(r).values() if v.significant], confirmed(r, frozenset())
(['c0'], ('c0',))
"""

from __future__ import annotations

from dataclasses import dataclass

from glasswatch.drift.job import ColumnResult, DriftResult

__all__ = ["OVERWHELMING_DISTANCE", "OVERWHELMING_P", "ColumnVerdict", "bh_adjusted", "confirmed",
           "confirmed_by", "significant", "verdicts"]

OVERWHELMING_P = 1e-4
"""An adjusted p-value at or below ``threshold × OVERWHELMING_P`` needs no second window."""
OVERWHELMING_DISTANCE = 2.0
"""A distance at least this many times its threshold needs no second window."""


@dataclass(frozen=True)
class ColumnVerdict:
    """One tested column after the correction (``adjusted_p`` ``None`` for a distance test)."""

    column: str
    adjusted_p: float | None
    significant: bool
    overwhelming: bool


def bh_adjusted(p_values: dict[str, float]) -> dict[str, float]:
    """Benjamini–Hochberg adjusted p-values (``min_{j >= i} m p_(j) / j``, at most 1).

    >>> bh_adjusted({"a": 0.01, "b": 0.04, "c": 0.03})
    {'a': 0.03, 'c': 0.04, 'b': 0.04}
    """
    order = sorted(p_values.items(), key=lambda kv: (kv[1], kv[0]))
    m = len(order)
    out: dict[str, float] = {}
    running = 1.0
    for rank in range(m, 0, -1):
        name, p = order[rank - 1]
        running = min(running, m * p / rank)
        out[name] = running
    return dict(reversed(out.items()))


def verdicts(result: DriftResult) -> dict[str, ColumnVerdict]:
    """Every tested feature column of ``result`` after the correction (see the module docstring)."""
    tested: list[tuple[ColumnResult, float, float]] = []
    for c in result.columns:
        if c.tested and c.score_kind is not None and c.score is not None and c.threshold is not None:
            tested.append((c, c.score, c.threshold))
    adjusted = bh_adjusted({c.column: s for c, s, _ in tested if c.score_kind == "p_value"})
    out: dict[str, ColumnVerdict] = {}
    for c, s, t in tested:
        if c.score_kind == "p_value":
            q = adjusted[c.column]
            out[c.column] = ColumnVerdict(c.column, q, q <= t, q <= t * OVERWHELMING_P)
        else:
            strong = c.drifted and s >= OVERWHELMING_DISTANCE * t
            out[c.column] = ColumnVerdict(c.column, None, c.drifted, strong)
    return out


def significant(result: DriftResult) -> frozenset[str]:
    """The columns whose drift is significant in the window (step 1)."""
    return frozenset(name for name, v in verdicts(result).items() if v.significant)


def confirmed(result: DriftResult, previous: frozenset[str]) -> tuple[str, ...]:
    """The columns to alert, given the columns significant in the previous drift window (step 2),
    in the order of :attr:`DriftResult.drifted` (strongest first)."""
    v = verdicts(result)
    return tuple(c.column for c in result.drifted if c.column in v and v[c.column].significant
                 and (c.column in previous or result.dataset_drift or v[c.column].overwhelming))


def confirmed_by(verdict: ColumnVerdict, result: DriftResult, previous: frozenset[str]) -> str:
    """Why a confirmed column is alerted: ``previous window``, ``dataset drift`` or ``overwhelming``."""
    if verdict.column in previous:
        return "previous window"
    return "dataset drift" if result.dataset_drift else "overwhelming"
