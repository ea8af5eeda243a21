"""The worker's ``/metrics``: Prometheus families produced by ``prometheus-client`` at scrape time.

:func:`build_registry` makes one :class:`~prometheus_client.CollectorRegistry` per worker (never
the process-global default, so tests and several apps in one process do not collide) holding a
:class:`WorkerCollector`, which reads the worker's live state when scraped, and the library's
process, platform and GC collectors (``process_*``, ``python_info``, ``python_gc_*``).

Families of :class:`WorkerCollector` (names and labels are a contract for dashboards and rules):

==============================================  =======  ======================  =====================
name                                            type     labels                  read from
==============================================  =======  ======================  =====================
glasswatch_events_accepted_total                counter                          partition state
glasswatch_events_rejected_total                counter  reason                  partition state
glasswatch_model_events_total                   counter  model, type             partition state
glasswatch_model_open_alerts                    gauge    model                   monitors (durable)
glasswatch_models                               gauge                            partition state
glasswatch_windows_closed_total                 counter  model                   this process
glasswatch_open_alerts                          gauge    kind, severity          alert book
glasswatch_ingest_messages_total                counter                          this process
glasswatch_ingest_batches_total                 counter                          this process
glasswatch_ingest_busy_seconds_total            counter                          this process
glasswatch_replayed_messages_skipped_total      counter                          this process
glasswatch_dead_letters_sent_total              counter                          this process
glasswatch_alerts_sent_total                    counter                          this process
glasswatch_idle_ticks_sent_total                counter                          this process
glasswatch_monitor_errors_total                 counter                          this process
glasswatch_signal_value                         gauge    model, signal           this process
glasswatch_signal_values_dropped_total          counter                          this process
glasswatch_batch_seconds                        histo.                           this process
glasswatch_consumer_lag                         gauge    topic, partition        consumer, state
==============================================  =======  ======================  =====================

"Partition state" covers the source partitions assigned to this worker (it moves on a rebalance).
Label values are bounded: reasons are the known codes (:data:`~glasswatch.schemas.dead_letter.REASONS`),
event types, alert kinds and severities are enums, and model names (chosen by producers) keep
their own label for the first ``max_models`` seen, the rest fold into ``model="_other"``
(:class:`ModelLabels`). Anything that does not fit a bounded set is counted under ``_other``;
``prometheus-client`` escapes what remains (quotes, backslashes, newlines). Signal values are
gauges (their sum means nothing), so they never fold: :class:`~glasswatch.agents.ingest_metrics.IngestMetrics`
keeps at most ``max_signal_series`` pairs and counts the refused updates
(``glasswatch_signal_values_dropped_total``). Consumer lag is per assigned input partition
(:mod:`glasswatch.web.consumer_lag`), bounded by the topics' partition counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from glasswatch.schemas.alert import AlertKind, AlertStatus, Severity
from glasswatch.schemas.dead_letter import REASONS
from glasswatch.web.consumer_lag import Highwaters, lag_of

if TYPE_CHECKING:
    from glasswatch.agents.ingest_metrics import IngestMetrics
    from glasswatch.monitor.partition import PartitionState
    from glasswatch.web.alerts import AlertBook

__all__ = [
    "MAX_LABEL_CHARS",
    "MAX_MODELS",
    "OTHER",
    "ModelLabels",
    "StatesReader",
    "WorkerCollector",
    "build_registry",
]

MAX_MODELS = 100
"""Models with their own ``model`` label value per worker; later ones are counted under ``OTHER``."""
OTHER = "_other"
"""The label value of everything beyond a bounded label set."""
MAX_LABEL_CHARS = 128  # the longest model name the event contract admits

StatesReader = Callable[[], Mapping[str, "PartitionState"]]
"""Returns the state of every source partition the worker holds (``GlasswatchApp.read_states``)."""

_EVENT_TYPES = ("prediction", "feature", "label")
# the reasons the partition state counts (late events included; receiver refusals are
# dead-lettered by the router: they appear in glasswatch_dead_letters_sent_total only)
_VALIDATION_REASONS = tuple(r for r in REASONS if r != "rejected_by_receiver")


def _printable(value: str) -> str:
    """A label value that always encodes as UTF-8 (lone surrogates escaped), at most 128 chars."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")[:MAX_LABEL_CHARS]


class ModelLabels:
    """Stable, bounded ``model`` label values: the first ``max_models`` names keep their own.

    Names are admitted in the order the worker first reports them (alphabetically within one
    scrape) and keep their label for the life of the registry, so a series never changes meaning;
    a model literally named ``_other`` shares the overflow label.

    >>> labels = ModelLabels(max_models=2)
    >>> labels.admit(["b", "a", "c"])
    >>> [labels.label(m) for m in ["a", "b", "c", "d"]]
    ['a', 'b', '_other', '_other']
    """

    def __init__(self, max_models: int = MAX_MODELS) -> None:
        self.max_models = max_models
        self._own: dict[str, str] = {}

    def admit(self, models: Iterable[str]) -> None:
        for model in sorted(set(models) - self._own.keys()):
            if len(self._own) >= self.max_models:
                return
            if model != OTHER:
                self._own[model] = _printable(model)

    def label(self, model: str) -> str:
        return self._own.get(model, OTHER)


class WorkerCollector(Collector):
    """Reads the worker's state at each scrape and yields the families in the module docstring."""

    def __init__(
        self,
        states: StatesReader,
        ingest: IngestMetrics,
        alerts: AlertBook | None = None,
        *,
        max_models: int = MAX_MODELS,
        highwaters: Highwaters | None = None,
    ) -> None:
        self.states = states
        self.ingest = ingest
        self.alerts = alerts
        self.max_models = max_models
        self.highwaters = highwaters
        self._models = ModelLabels(max_models)

    def collect(self) -> Iterator[Metric]:
        states = list(self.states().values())
        ingest = self.ingest
        self._models.admit(m for st in states for m in st.models)
        self._models.admit(ingest.windows_by_model)
        yield from self._state_families(states)
        windows = CounterMetricFamily(
            "glasswatch_windows_closed_total",
            "Windows closed by this worker process, per model.",
            labels=["model"],
        )
        closed: Counter[str] = Counter()
        for model, n in ingest.windows_by_model.items():
            closed[self._models.label(model)] += n
        for model, n in sorted(closed.items()):
            windows.add_metric([model], n)
        yield windows
        if self.alerts is not None:
            yield self._open_alerts(self.alerts)
        yield from self._process_families(states)
        for name, doc, value in (
            ("ingest_messages", "Kafka messages taken by the ingest agent.", ingest.messages),
            ("ingest_batches", "Batches processed by the ingest agent.", ingest.batches),
            ("ingest_busy_seconds", "Seconds the ingest agent spent processing batches.", ingest.busy_s),
            (
                "replayed_messages_skipped",
                "Messages skipped because their offset was already applied (replay after a crash).",
                ingest.skipped_replays,
            ),
            (
                "dead_letters_sent",
                "Dead letters published (every reason, late events included).",
                ingest.dead_letters,
            ),
            ("alerts_sent", "Alert records (firing and resolved) published.", ingest.alerts),
            ("idle_ticks_sent", "Idle ticks written for silent input partitions.", ingest.ticks_sent),
            (
                "monitor_errors",
                "Model-monitor failures and degraded window summaries (logged; the stream goes on).",
                ingest.monitor_errors,
            ),
        ):
            yield CounterMetricFamily(f"glasswatch_{name}_total", doc, value=value)

    def _process_families(self, states: list[PartitionState]) -> Iterator[Metric]:
        ingest = self.ingest
        signals = GaugeMetricFamily(
            "glasswatch_signal_value",
            "Value of each watched signal in the model's last closed window (this process).",
            labels=["model", "signal"],
        )
        for (model, signal), value in sorted(ingest.signals.items()):
            signals.add_metric([_printable(model), _printable(signal)], value)
        yield signals
        yield CounterMetricFamily(
            "glasswatch_signal_values_dropped",
            f"Signal value updates not exported: beyond {ingest.max_signal_series} (model, signal) pairs.",
            value=ingest.signal_values_dropped,
        )
        yield from ingest.batch_seconds.collect()
        if self.highwaters is not None:
            applied = {(st.topic, st.partition): st.last_offset for st in states}
            lag = GaugeMetricFamily(
                "glasswatch_consumer_lag",
                "Messages of an assigned input partition not applied yet (highwater - applied offset - 1).",
                labels=["topic", "partition"],
            )
            for (topic, partition), n in lag_of(self.highwaters(), applied).items():
                lag.add_metric([topic, str(partition)], n)
            yield lag

    def _state_families(self, states: list[PartitionState]) -> Iterator[Metric]:
        rejects: Counter[str] = Counter({r: 0 for r in _VALIDATION_REASONS})
        events: Counter[tuple[str, str]] = Counter()
        open_alerts: Counter[str] = Counter()
        models: set[str] = set()
        for st in states:
            for reason, n in st.rejects.items():
                rejects[reason if reason in REASONS else OTHER] += n
            for model, ms in st.models.items():
                models.add(model)
                label = self._models.label(model)
                for kind, n in ms.events.items():
                    events[label, kind if kind in _EVENT_TYPES else OTHER] += n
            for model, mon in st.monitors.items():
                open_alerts[self._models.label(model)] += len(mon.open_alerts)
        yield CounterMetricFamily(
            "glasswatch_events_accepted_total",
            "Events accepted by ingest (state of assigned partitions).",
            value=sum(st.accepted for st in states),
        )
        rejected = CounterMetricFamily(
            "glasswatch_events_rejected_total",
            "Messages or batch items refused by validation and sent to the dead-letter topic.",
            labels=["reason"],
        )
        for reason, n in sorted(rejects.items()):
            rejected.add_metric([reason], n)
        yield rejected
        per_model = CounterMetricFamily(
            "glasswatch_model_events_total",
            "Events accepted per model and event type (state of assigned partitions).",
            labels=["model", "type"],
        )
        for (model, kind), n in sorted(events.items()):
            per_model.add_metric([model, kind], n)
        yield per_model
        conditions = GaugeMetricFamily(
            "glasswatch_model_open_alerts",
            "Open alert conditions per model, from the monitors' durable state.",
            labels=["model"],
        )
        for model, n in sorted(open_alerts.items()):
            conditions.add_metric([model], n)
        yield conditions
        yield GaugeMetricFamily(
            "glasswatch_models",
            f'Models in the assigned partitions (beyond {self.max_models} they share model="{OTHER}").',
            value=len(models),
        )

    @staticmethod
    def _open_alerts(book: AlertBook) -> GaugeMetricFamily:
        counts: Counter[tuple[str, str]] = Counter(
            {(k.value, s.value): 0 for k in AlertKind for s in Severity}
        )
        for alert in book.latest():
            if alert.status is AlertStatus.FIRING:
                counts[alert.kind.value, alert.severity.value] += 1
        family = GaugeMetricFamily(
            "glasswatch_open_alerts",
            "Alerts firing now by kind and severity (alerts this worker emitted since it started).",
            labels=["kind", "severity"],
        )
        for (kind, severity), n in sorted(counts.items()):
            family.add_metric([kind, severity], n)
        return family


def build_registry(
    states: StatesReader,
    ingest: IngestMetrics,
    alerts: AlertBook | None = None,
    *,
    max_models: int = MAX_MODELS,
    process: bool = True,
    highwaters: Highwaters | None = None,
) -> CollectorRegistry:
    """A registry of its own for one worker: :class:`WorkerCollector` plus, with ``process``,
    prometheus-client's process, platform and GC collectors."""
    registry = CollectorRegistry()
    registry.register(WorkerCollector(states, ingest, alerts, max_models=max_models, highwaters=highwaters))
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry
