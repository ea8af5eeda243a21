"""``/metrics`` families added for Prometheus rules and dashboards: signal values (bounded),
batch latency histogram, consumer lag per input partition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from glasswatch.agents.ingest_metrics import IngestMetrics
from glasswatch.monitor.model_monitor import Located, ModelMonitor
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.specs import MonitorSpec
from glasswatch.schemas.coords import Coord
from glasswatch.schemas.events import PredictionEvent
from glasswatch.web.consumer_lag import faust_highwaters, lag_of
from glasswatch.web.metrics import build_registry

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOSTILE = 'evil"model\\with\nnewline} 1\n# TYPE x counter'
FEATURE = 'feat"\\} 1 # TYPE x'  # feature names admit no control characters


def _samples(registry: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def _monitor_run(model: str = "churn", feature: str = "age") -> tuple[ModelMonitor, Any]:
    spec = MonitorSpec(model=model, window={"size_seconds": 10}, anomaly={"enabled": False})
    mon = ModelMonitor(spec)
    recs = [
        Located(
            PredictionEvent(
                model=model,
                model_version="1",
                prediction_id=str(i),
                event_time=T0 + timedelta(seconds=i),
                prediction=0.25 if i < 10 else 0.75,
                features={feature: float(i)},
            ),
            Coord("preds", 0, i),
        )
        for i in range(25)
    ]
    return mon, mon.update_many(recs)


def test_signal_values_are_the_last_closed_window() -> None:
    mon, out = _monitor_run()
    assert [w.start for w in out.windows] == [T0, T0 + timedelta(seconds=10)]
    m = IngestMetrics()
    m.monitor_output("churn", out, mon)
    assert m.windows_by_model == {"churn": 2} and m.windows == 2 and m.alerts == len(out.alerts)
    s = _samples(build_registry(dict, m, process=False))
    value = {dict(k)["signal"]: v for (n, k), v in s.items() if n == "glasswatch_signal_value"}
    assert value["prediction:mean"] == 0.75  # the second window, not the first (0.25)
    assert value["feature:age:mean"] == 14.5  # mean of 10..19
    assert value["events:rate"] == 1.0
    assert not any(k.endswith(":category_mix") for k in value)
    assert s["glasswatch_signal_values_dropped_total", ()] == 0


def test_signal_series_are_capped_and_hostile_names_escaped() -> None:
    m = IngestMetrics(max_signal_series=3)
    mon, out = _monitor_run(feature=FEATURE)
    m.monitor_output("churn", out, mon)
    assert len(m.signals) == 3
    dropped = m.signal_values_dropped
    assert dropped > 0
    m.monitor_output("churn", out, mon)  # the kept pairs are updated, the others dropped again
    assert len(m.signals) == 3 and m.signal_values_dropped == 2 * dropped
    m.signals[HOSTILE * 20, HOSTILE] = 1.0  # as if a producer chose both names
    text = generate_latest(build_registry(dict, m, process=False)).decode()
    assert not any(line.startswith("# TYPE x") for line in text.splitlines())
    s = _samples(build_registry(dict, m, process=False))
    models = [dict(k)["model"] for (n, k), _ in s.items() if n == "glasswatch_signal_value"]
    assert len(models) == 4 and max(len(x) for x in models) == 128  # length-capped label values
    assert s["glasswatch_signal_values_dropped_total", ()] == 2 * dropped


def test_batch_latency_histogram() -> None:
    m = IngestMetrics()
    for seconds in (0.003, 0.2, 7.0):
        m.batch_done(10, seconds)
    assert (m.messages, m.batches) == (30, 3) and abs(m.busy_s - 7.203) < 1e-9
    s = _samples(build_registry(dict, m, process=False))
    bucket = {dict(k)["le"]: v for (n, k), v in s.items() if n == "glasswatch_batch_seconds_bucket"}
    assert bucket["0.005"] == 1 and bucket["0.25"] == 2 and bucket["5.0"] == 2 and bucket["+Inf"] == 3
    assert s["glasswatch_batch_seconds_count", ()] == 3
    assert abs(s["glasswatch_batch_seconds_sum", ()] - 7.203) < 1e-9
    fresh = _samples(build_registry(dict, IngestMetrics(), process=False))
    assert fresh["glasswatch_batch_seconds_count", ()] == 0  # each worker's histogram is its own


def test_lag_uses_the_applied_offset_of_the_state() -> None:
    assert lag_of({("p", 0): 10, ("p", 1): 3, ("p", 2): 0}, {("p", 0): 4, ("p", 1): 9}) == {
        ("p", 0): 5,
        ("p", 1): 0,  # never negative (a highwater read before the last fetch)
        ("p", 2): 0,
    }
    st = PartitionState(topic="p", partition=0)
    st.apply(6, [])
    registry = build_registry(
        lambda: {"p:0": st}, IngestMetrics(), process=False, highwaters=lambda: {("p", 0): 10, ("p", 1): 3}
    )
    lag = {
        (dict(k)["topic"], dict(k)["partition"]): v
        for (n, k), v in _samples(registry).items()
        if n == "glasswatch_consumer_lag"
    }
    assert lag == {("p", "0"): 3, ("p", "1"): 3}  # offsets 7, 8, 9 of p/0 not applied yet


class _TP(NamedTuple):
    topic: str
    partition: int


class _Consumer:
    def __init__(self, highwaters: dict[tuple[str, int], int | None], started: bool = True) -> None:
        self.hw = highwaters
        self.started = started

    def assignment(self) -> set[Any]:
        if not self.started:
            raise RuntimeError("consumer not started")
        return {_TP(t, p) for t, p in self.hw}

    def highwater(self, tp: Any) -> int | None:
        return self.hw[tp.topic, tp.partition]


def test_faust_highwaters_reads_only_input_topics_and_never_creates_a_consumer() -> None:
    app = SimpleNamespace(_consumer=None)
    read = faust_highwaters(app, ["preds", "feats"])
    assert read() == {}
    assert app._consumer is None
    app._consumer = _Consumer({("preds", 0): 12, ("feats", 1): None, ("gw-state-changelog", 0): 99})
    assert read() == {("preds", 0): 12}  # not fetched yet (None): left out; changelog: not an input
    app._consumer = _Consumer({("preds", 0): 12}, started=False)
    assert read() == {}
