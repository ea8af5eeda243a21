"""A model's earlier drift runs, to rebuild its alert state after a restart.

A restarted drift process knows nothing of the conditions it had open. Before a model's first
window after the start, :func:`runs_to_replay` reads that model's logged runs (newest first,
through :class:`~glasswatch.drift.reference.ReferenceStore.drift_history`) down to the last one
that cleared everything (:meth:`DriftAlerts.clears`), at most :data:`MAX_REPLAY`, and returns
them oldest first; replaying them through :class:`~glasswatch.drift.alerts.DriftAlerts` gives the
state an uninterrupted process would have, so the next window raises exactly the alerts it would
have raised. Blocking (the store is MLflow): callers run it in an executor.
"""

from __future__ import annotations

from glasswatch.drift.alerts import DriftAlerts, DriftOutcome
from glasswatch.drift.job import DriftResult
from glasswatch.drift.reference import ReferenceStore
from glasswatch.drift.window import DriftWindow

__all__ = ["MAX_REPLAY", "runs_to_replay"]

MAX_REPLAY = 500
"""Most MLflow runs a restarted drift process replays per model to rebuild its alert state."""


def runs_to_replay(
    store: ReferenceStore, window: DriftWindow, *, limit: int = MAX_REPLAY
) -> list[DriftOutcome]:
    """The logged runs of ``window``'s model before it, from the last one that cleared
    everything, oldest first (``window`` itself, if already logged, is left out)."""
    runs: list[DriftOutcome] = []
    seen: set[str] = set()
    for logged in store.drift_history(window.model, window.end):
        if logged.window.id in seen or logged.window.id == window.id:
            continue
        seen.add(logged.window.id)
        result = DriftResult.model_validate(logged.result)
        if DriftAlerts.clears(result) or len(runs) >= limit:
            break
        runs.append(
            DriftOutcome(
                logged.window, result, reference_sha256=logged.reference_sha256, run_id=logged.run_id,
                run_url=logged.run_url, report_url=logged.report_url, config_hash=logged.spec.config_hash(),
            )
        )  # fmt: skip
    return sorted(runs, key=lambda o: o.window.end)
