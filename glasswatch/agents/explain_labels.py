"""The explain process's loss basis: labels joined to explained predictions, loss windows.

:class:`LossBasis` is the label side of :class:`glasswatch.agents.explain.ExplainRuntime`:

1. a prediction explained with sample reason ``sampled`` (not the anomaly sample: a biased
   sample's loss is not comparable with the reference's; labels of ids outside the sample are
   only counted, ``labels_unsampled``) waits for its label in a bounded map
   (:class:`LabelMatches`, ``max_entries``, oldest out); a label that arrives before its
   prediction was explained waits in a second map bounded alike. Entries pushed out are counted
   ``labels_evicted``; a prediction id is joined within its model (``(model, prediction_id)``);
2. joined pairs collect per version and go to the explain pool as one task per version and
   poll (:func:`~glasswatch.agents.explain_pool.explain_losses`), within the runtime's
   ``max_pending`` budget (skipped and counted ``skipped_behind`` when the pool is behind). The
   version's training-time loss profile is computed in the pool once, before its first task
   (:func:`~glasswatch.agents.explain_pool.training_loss_profile`, on the labelled background
   rows of the reference; a version whose reference has no target, or fewer labelled rows than
   the detector's ``min_labelled``, is not judged: its pairs are counted ``unprofiled``);
3. each row's loss contributions go into the tumbling event-time window (the *prediction's*
   event time, ``window``) of its version. Labels come late and out of order, so a window closes
   once a contribution one window past its end arrives (a window of grace), or on
   :meth:`LossBasis.flush`; later ones are counted ``late``. A closed window is judged by
   :class:`~glasswatch.explain.loss_drift.LossAttributionDrift` and ``attribution_drift``
   (basis ``loss``) fires or resolves (:meth:`~glasswatch.explain.alerts.ExplainAlerts.loss_window`).

Decision: loss contributions are not published on the explanations topic (no new contract);
they live in the windows, and the alert's evidence carries what turned. Each row's values are
deterministic (the masker is reseeded per row); which window a late pair lands in depends on how
the two topics interleave, so window membership at the edges may differ between runs.
"""

from __future__ import annotations

import asyncio
import logging
from array import array
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from glasswatch.agents.explain_models import ResolvedModel
from glasswatch.agents.explain_pool import LossBatch, explain_losses, training_loss_profile
from glasswatch.explain.alerts import ExplainAlerts, LossWindow
from glasswatch.explain.loss_drift import LossAttributionDrift, LossProfile
from glasswatch.explain.profile import window_start
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.events import LabelEvent, PredictionEvent

__all__ = ["DEFAULT_MAX_AWAITING", "LabelMatches", "Labelled", "LossBasis", "LossStats", "LossTask",
           "Waiting"]

log = logging.getLogger(__name__)

DEFAULT_MAX_AWAITING = 100_000
_Key = tuple[str, str]


@dataclass
class LossStats:
    labels: int = 0
    """Labels of sampled prediction ids (the ones a loss can be explained for)."""
    labels_unsampled: int = 0
    labels_unknown: int = 0
    """Labels the model's classes do not hold (or a regressor's non-numeric label)."""
    labels_evicted: int = 0
    """Waiting predictions or early labels pushed out of their bounded map."""
    explained: int = 0
    skipped_behind: int = 0
    unprofiled: int = 0
    late: int = 0
    windows: int = 0
    failures: int = 0
    cpu_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Waiting:
    """An explained prediction waiting for its label (about 0.6 KB with 30 features)."""

    resolved: ResolvedModel
    prediction_id: str
    event_time: datetime
    values: array[float]
    """The prediction's features in ``resolved.features`` order (doubles)."""


@dataclass(frozen=True, slots=True)
class Labelled:
    prediction: Waiting
    label: object


class LabelMatches:
    """Explained predictions waiting for their label, and labels waiting for their prediction,
    each at most ``max_entries`` (oldest out, counted in ``evicted``).

    >>> m = LabelMatches(max_entries=1)
    >>> m.label("bc", "p-1", 1), m.label("bc", "p-2", 0), m.evicted
    (None, None, 1)
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_AWAITING) -> None:
        self.max_entries = max_entries
        self.evicted = 0
        self._waiting: OrderedDict[_Key, Waiting] = OrderedDict()
        self._early: OrderedDict[_Key, object] = OrderedDict()

    def prediction(self, model: str, p: Waiting) -> Labelled | None:
        key = (model, p.prediction_id)
        if key in self._early:
            return Labelled(p, self._early.pop(key))
        self._waiting[key] = p
        self._bound(self._waiting)
        return None

    def label(self, model: str, prediction_id: str, label: object) -> Labelled | None:
        key = (model, prediction_id)
        if key in self._waiting:
            return Labelled(self._waiting.pop(key), label)
        self._early[key] = label
        self._bound(self._early)
        return None

    def _bound(self, entries: OrderedDict[_Key, object] | OrderedDict[_Key, Waiting]) -> None:
        while len(entries) > self.max_entries:
            entries.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._waiting) + len(self._early)


@dataclass
class LossTask:
    resolved: ResolvedModel
    pairs: list[Labelled]
    future: asyncio.Future[LossBatch]


@dataclass
class _Version:
    profile: asyncio.Future[LossProfile] | None
    drift: LossAttributionDrift | None = None
    judged: bool = False
    """Whether ``drift`` was built from the profile (``None`` then means: not judged)."""
    open: dict[datetime, LossProfile] = field(default_factory=dict)
    closed_before: datetime | None = None


class LossBasis:
    """Label bookkeeping and loss windows of the explain process (see the module docstring)."""

    def __init__(self, *, pool: Executor, alerter: ExplainAlerts, window: timedelta, seed: int = 0,
                 max_awaiting: int = DEFAULT_MAX_AWAITING,
                 drift_for: Callable[[LossProfile], LossAttributionDrift] = LossAttributionDrift,
                 stats: LossStats | None = None) -> None:
        self.pool = pool
        self.alerter = alerter
        self.window = window
        self.seed = seed
        self.drift_for = drift_for
        self.matches = LabelMatches(max_awaiting)
        self.stats = stats if stats is not None else LossStats()
        self._ready: dict[_Key, list[Labelled]] = {}
        self._versions: dict[_Key, _Version] = {}

    # -- joining ------------------------------------------------------------------------------
    def label(self, event: LabelEvent, sampled: bool) -> None:
        """A label; ``sampled``: its prediction id is in the model's sample (else it is only
        counted ``labels_unsampled``: its prediction is never explained)."""
        if not sampled:
            self.stats.labels_unsampled += 1
            return
        self.stats.labels += 1
        self._join(self.matches.label(event.model, event.prediction_id, event.label))

    def explained(self, resolved: ResolvedModel, event: PredictionEvent) -> None:
        """A prediction explained with reason ``sampled`` (its features are complete)."""
        feats = event.features or {}
        values = array("d", (float(feats[f]) for f in resolved.features))  # type: ignore[arg-type]
        waiting = Waiting(resolved, event.prediction_id, event.event_time, values)
        self._join(self.matches.prediction(resolved.model, waiting))

    def _join(self, pair: Labelled | None) -> None:
        self.stats.labels_evicted = self.matches.evicted
        if pair is not None:
            r = pair.prediction.resolved
            self._ready.setdefault((r.model, r.version), []).append(pair)

    @property
    def ready(self) -> int:
        return sum(len(v) for v in self._ready.values())

    # -- submitting ---------------------------------------------------------------------------
    def tasks(self, room: int) -> list[LossTask]:
        """One pool task per version of the joined pairs, at most ``room`` (the rest skipped)."""
        loop = asyncio.get_running_loop()
        out: list[LossTask] = []
        for key in sorted(self._ready):
            pairs = self._ready.pop(key)
            r = pairs[0].prediction.resolved
            state = self._version(key, r)
            if state.profile is None or r.background is None or (state.judged and state.drift is None):
                self.stats.unprofiled += len(pairs)
                continue
            if len(out) >= room:
                self.stats.skipped_behind += len(pairs)
                continue
            frame = pd.DataFrame([p.prediction.values for p in pairs], columns=list(r.features), dtype=float)
            future = loop.run_in_executor(self.pool, explain_losses, r.model_dir, r.background, frame,
                                          [p.label for p in pairs], self.seed)
            out.append(LossTask(r, pairs, asyncio.ensure_future(future)))
        return out

    def _version(self, key: _Key, r: ResolvedModel) -> _Version:
        state = self._versions.get(key)
        if state is None:
            profile = None
            if r.background is not None and r.background_labels is not None:
                profile = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(
                    self.pool, training_loss_profile, r.model_dir, r.background, r.background_labels,
                    self.seed))
            state = self._versions[key] = _Version(profile)
        return state

    # -- results ------------------------------------------------------------------------------
    async def handle(self, task: LossTask) -> tuple[Alert, ...]:
        """Window the task's loss contributions, in order; the alerts of the windows it closed."""
        r = task.resolved
        state = self._versions[(r.model, r.version)]
        if not state.judged and state.profile is not None:
            state.judged = True
            try:
                training = await state.profile
            except Exception:  # no profile: the version's windows are kept but not judged
                log.exception("explain: no training loss profile for %s v%s", r.model, r.version)
            else:
                detector = self.drift_for(training)
                state.drift = detector if training.count >= detector.min_labelled else None
        result = await task.future
        self.stats.cpu_s += result.cpu_s
        alerts: list[Alert] = []
        for pair, a in zip(task.pairs, result.attributions, strict=True):
            if a is None:
                self.stats.labels_unknown += 1
                continue
            self.stats.explained += 1
            alerts += self._add(r, state, pair.prediction.event_time, a.values)
        return tuple(alerts)

    def _add(self, r: ResolvedModel, state: _Version, t: datetime, values: dict[str, float]) -> list[Alert]:
        start = window_start(t, self.window)
        if state.closed_before is not None and start < state.closed_before:
            self.stats.late += 1
            return []
        state.open.setdefault(start, LossProfile()).update(values)
        alerts: list[Alert] = []
        for s in sorted(state.open):
            if s + 2 * self.window <= t:  # one window of grace for late labels
                alerts += self._close(r.model, r.version, state, s)
        return alerts

    def _close(self, model: str, version: str, state: _Version, start: datetime) -> list[Alert]:
        profile = state.open.pop(start)
        state.closed_before = max(state.closed_before or start, start + self.window)
        self.stats.windows += 1
        if state.drift is None:
            return []
        comparison = state.drift.update(profile).last
        if comparison is None:
            return []
        w = LossWindow(model, version, start, start + self.window, profile, comparison)
        return list(self.alerter.loss_window(w, state.drift.thresholds))

    def flush(self) -> tuple[Alert, ...]:
        """Close every open loss window (end of a replay, shutdown; tasks must be drained)."""
        alerts: list[Alert] = []
        for key in sorted(self._versions):
            state = self._versions[key]
            for s in sorted(state.open):
                alerts += self._close(*key, state, s)
        return tuple(alerts)
