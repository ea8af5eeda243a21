"""Which predictions the anomaly scorer flags, as the explain process sees them.

The ingest worker scores every event of a model with an
:class:`~glasswatch.monitor.anomaly.AnomalyScorer`; the explain process explains the flagged
ones too (sample reason ``"anomaly"``, :func:`glasswatch.explain.sampling.sample_reason`). The
flag is not on the topic, so :class:`AnomalySampler` keeps a scorer per model of its own, built
from the model's monitor spec ``anomaly`` section exactly as
:class:`~glasswatch.monitor.model_monitor.ModelMonitor` builds it (same parameters, the spec's
seed; ``enabled: false`` → no scorer, nothing flagged), and fed every prediction of the model in
the order the explain process reads them. Predictions are keyed by model, so a model's events
are in one partition and this is the sequence the worker's scorer sees — except the events the
worker does not score: late ones (outside its window lateness) and feature events of the
features topic. A model whose version has a reference baseline has its worker scorer fitted on
the reference instead of a warm-up; here it always warms up on its first ``warmup_events``
predictions (no flags before). Only the scorer's constructor, ``update`` and ``flag`` are used.

Deterministic: the same predictions in the same order give the same flags (seeded trees), so a
replay from the same offsets explains the same anomalies. A restarted explain process starts
its scorers afresh (a warm-up again). At most ``max_models`` scorers are kept (least recently
used out): model names come from producers.

Examples
--------
>>> import random
>>> from glasswatch.monitor.specs import MonitorSpec
>>> rng = random.Random(3)
>>> spec = MonitorSpec(model="m", anomaly={"warmup_events": 200, "window_size": 50, "stride": 1})
>>> s = AnomalySampler(lambda model: spec)
>>> for _ in range(2000):
...     _ = s.update("m", {"a": rng.gauss(0, 1), "b": rng.gauss(5, 1)})
>>> s.update("m", {"a": 9.0, "b": -4.0}).flagged
True
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Self

from glasswatch.monitor.anomaly import AnomalyScorer
from glasswatch.monitor.specs import MonitorSpec

__all__ = ["DEFAULT_MAX_MODELS", "AnomalySampler", "scorer_of"]

DEFAULT_MAX_MODELS = 256


def scorer_of(spec: MonitorSpec) -> AnomalyScorer | None:
    """The scorer :class:`~glasswatch.monitor.model_monitor.ModelMonitor` builds for ``spec``."""
    a = spec.anomaly
    if not a.enabled:
        return None
    return AnomalyScorer(a.features, a.warmup_events, a.q, a.n_trees, a.height, a.window_size, a.stride,
                         spec.seed)


class AnomalySampler:
    """One anomaly scorer per model (see the module docstring)."""

    def __init__(self, spec_for: Callable[[str], MonitorSpec], max_models: int = DEFAULT_MAX_MODELS) -> None:
        if max_models < 1:
            raise ValueError("max_models must be >= 1")
        self.spec_for = spec_for
        self.max_models = max_models
        self.scorers: OrderedDict[str, AnomalyScorer | None] = OrderedDict()
        self._flagged = False

    def update(self, model: str, features: Mapping[str, object] | None) -> Self:
        """Score one prediction of ``model``; :attr:`flagged` says whether it was flagged."""
        if model not in self.scorers:
            self.scorers[model] = scorer_of(self.spec_for(model))
            while len(self.scorers) > self.max_models:
                self.scorers.popitem(last=False)
        self.scorers.move_to_end(model)
        scorer = self.scorers[model]
        self._flagged = scorer is not None and scorer.update(features).flag == 1.0
        return self

    @property
    def flagged(self) -> bool:
        """Whether the last prediction was flagged as anomalous."""
        return self._flagged
