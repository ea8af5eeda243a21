"""``/metrics``: families written by prometheus-client, read back with its parser."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from glasswatch.agents.ingest_metrics import IngestMetrics
from glasswatch.kafka.app import GlasswatchApp, encode_state
from glasswatch.kafka.state_codec import StateCodec
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.stats import ModelStats
from glasswatch.schemas import AlertKind, AlertStatus, Severity
from glasswatch.schemas.alert import Alert
from glasswatch.schemas.events import FeatureEvent, LabelEvent, PredictionEvent
from glasswatch.settings import Settings
from glasswatch.web.alerts import AlertBook
from glasswatch.web.metrics import OTHER, build_registry
from glasswatch.web.stats import attach_web

T = datetime(2026, 1, 1, tzinfo=UTC)
HOSTILE = 'evil"model\\with\nnewline} 1\n# TYPE x counter'

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _pred(model: str, i: int) -> PredictionEvent:
    return PredictionEvent(
        model=model, model_version="1", prediction_id=f"{model}-{i}", event_time=T, features={"x": float(i)}
    )


class _Monitor:
    """Stands in for a ModelMonitor: the collector reads only ``open_alerts``."""

    def __init__(self, n_open: int) -> None:
        self.open_alerts = {f"fp{i}": T for i in range(n_open)}


def _known_states() -> dict[str, PartitionState]:
    a = PartitionState(topic="preds", partition=0)
    a.apply(0, [_pred("churn", 0), _pred("churn", 1)], ["not_json"])
    a.apply(
        1,
        [FeatureEvent(model="churn", prediction_id="churn-0", event_time=T, features={"x": 1.0})],
        ["not_json", "oversize"],
    )
    a.apply(2, [LabelEvent(model="churn", prediction_id="churn-0", event_time=T, label=1)])
    b = PartitionState(topic="preds", partition=1)
    b.apply(0, [_pred("fraud", 0), _pred("churn", 9)], ["clock_skew"])
    a.monitors = {"churn": _Monitor(2)}  # type: ignore[dict-item]
    b.monitors = {"fraud": _Monitor(1), "churn": _Monitor(0)}  # type: ignore[dict-item]
    return {"preds:0": a, "preds:1": b}


def _ingest() -> IngestMetrics:
    m = IngestMetrics()
    m.messages, m.batches, m.busy_s, m.skipped_replays = 7, 3, 1.25, 4
    m.dead_letters, m.alerts, m.ticks_sent = 5, 6, 2
    m.windows_by_model = {"churn": 10, "fraud": 3}
    return m


def _book() -> AlertBook:
    book = AlertBook()
    common = {"summary": "s", "starts_at": T}
    book.add(
        Alert.build(
            kind=AlertKind.THRESHOLD_STATIC,
            severity=Severity.WARNING,
            model="churn",
            signal="x:mean",
            **common,
        )
    )
    book.add(
        Alert.build(
            kind=AlertKind.THRESHOLD_STATIC,
            severity=Severity.WARNING,
            model="fraud",
            signal="x:mean",
            **common,
        )
    )
    book.add(
        Alert.build(
            kind=AlertKind.DEAD_LETTERS,
            severity=Severity.CRITICAL,
            model="churn",
            signal="dlq:rate",
            **common,
        )
    )
    # fired, then resolved: no longer open
    book.add(
        Alert.build(
            kind=AlertKind.EVENT_RATE,
            severity=Severity.WARNING,
            model="churn",
            signal="events:rate",
            **common,
        )
    )
    book.add(
        Alert.build(
            kind=AlertKind.EVENT_RATE,
            severity=Severity.WARNING,
            model="churn",
            signal="events:rate",
            status=AlertStatus.RESOLVED,
            ends_at=T.replace(hour=1),
            **common,
        )
    )
    return book


def _scrape(registry: CollectorRegistry) -> tuple[dict[str, Any], Samples]:
    text = generate_latest(registry).decode("utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples
    }
    return families, samples


def _by(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(k)[label]: v for (n, k), v in samples.items() if n == name}


def test_families_labels_and_values_of_a_known_state() -> None:
    states = _known_states()
    families, samples = _scrape(build_registry(lambda: states, _ingest(), _book(), process=False))

    # the families /metrics had before prometheus-client, with the same names, types and labels
    assert families["glasswatch_events_accepted"].type == "counter"
    assert samples["glasswatch_events_accepted_total", ()] == 6
    rejected = _by(samples, "glasswatch_events_rejected_total", "reason")
    assert {k: v for k, v in rejected.items() if v} == {"not_json": 2, "oversize": 1, "clock_skew": 1}
    assert rejected["bad_utf8"] == 0  # every validation reason is present from the first scrape
    assert rejected["late"] == 0  # late events are counted in the partition state (issue 9, item 8)
    assert "rejected_by_receiver" not in rejected  # router refusals: in dead_letters_sent only
    assert samples["glasswatch_ingest_busy_seconds_total", ()] == 1.25
    assert samples["glasswatch_replayed_messages_skipped_total", ()] == 4

    events = {
        (dict(k)["model"], dict(k)["type"]): v
        for (n, k), v in samples.items()
        if n == "glasswatch_model_events_total"
    }
    assert events == {
        ("churn", "prediction"): 3,
        ("churn", "feature"): 1,
        ("churn", "label"): 1,
        ("fraud", "prediction"): 1,
    }
    assert _by(samples, "glasswatch_windows_closed_total", "model") == {"churn": 10, "fraud": 3}
    assert _by(samples, "glasswatch_model_open_alerts", "model") == {"churn": 2, "fraud": 1}
    assert families["glasswatch_model_open_alerts"].type == "gauge"
    assert samples["glasswatch_models", ()] == 2

    open_alerts = {
        (dict(k)["kind"], dict(k)["severity"]): v
        for (n, k), v in samples.items()
        if n == "glasswatch_open_alerts"
    }
    assert len(open_alerts) == len(AlertKind) * len(Severity)  # bounded, every pair present
    assert {k: v for k, v in open_alerts.items() if v} == {
        ("threshold_static", "warning"): 2,
        ("dead_letters", "critical"): 1,
    }

    for name, value in [
        ("ingest_messages", 7),
        ("ingest_batches", 3),
        ("dead_letters_sent", 5),
        ("alerts_sent", 6),
        ("idle_ticks_sent", 2),
    ]:
        assert samples[f"glasswatch_{name}_total", ()] == value


def test_the_state_is_read_at_each_scrape() -> None:
    states = _known_states()
    registry = build_registry(lambda: states, IngestMetrics(), process=False)
    assert _scrape(registry)[1]["glasswatch_events_accepted_total", ()] == 6
    states["preds:0"].apply(3, [_pred("churn", 3)])
    assert _scrape(registry)[1]["glasswatch_events_accepted_total", ()] == 7
    assert "glasswatch_open_alerts" not in _scrape(registry)[0]  # no alert book, no family


def test_model_labels_are_bounded_and_stable() -> None:
    st = PartitionState(topic="t", partition=0)
    for i, model in enumerate(["d", "b", "c", "a"]):
        st.apply(i, [_pred(model, i)] * (i + 1))
    ingest = IngestMetrics()
    ingest.windows_by_model = {"a": 1, "b": 1, "c": 1, "d": 1, OTHER: 5}
    registry = build_registry(lambda: {"t:0": st}, ingest, max_models=2, process=False)
    _, samples = _scrape(registry)
    # a=4, b=2 keep their label; c=3 and d=1 fold into _other (a producer's own "_other" too)
    assert _by(samples, "glasswatch_model_events_total", "model") == {"a": 4, "b": 2, OTHER: 4}
    assert _by(samples, "glasswatch_windows_closed_total", "model") == {"a": 1, "b": 1, OTHER: 7}
    assert samples["glasswatch_models", ()] == 4
    st.apply(10, [_pred("0", 10)])  # sorts first, but arrives after the slots are taken
    _, samples = _scrape(registry)
    assert _by(samples, "glasswatch_model_events_total", "model") == {"a": 4, "b": 2, OTHER: 5}


def test_unknown_reasons_and_event_types_fold_into_other() -> None:
    st = PartitionState(topic="t", partition=0)
    st.rejects.update({"made_up_by_an_old_worker": 2, "not_json": 1})
    ms = st.models["m"] = ModelStats()
    ms.events.update({"prediction": 1, "surprise": 3})
    _, samples = _scrape(build_registry(lambda: {"t:0": st}, IngestMetrics(), process=False))
    rejected = _by(samples, "glasswatch_events_rejected_total", "reason")
    assert rejected[OTHER] == 2 and rejected["not_json"] == 1
    assert "made_up_by_an_old_worker" not in rejected
    events = {dict(k)["type"]: v for (n, k), v in samples.items() if n == "glasswatch_model_events_total"}
    assert events == {"prediction": 1, OTHER: 3}


def test_hostile_model_names_cannot_break_the_exposition() -> None:
    st = PartitionState(topic="t", partition=0)
    st.models[HOSTILE] = ModelStats().update(_pred("m", 0))
    st.models["lone\ud800surrogate"] = ModelStats().update(_pred("m", 1))
    ingest = IngestMetrics()
    ingest.windows_by_model = {HOSTILE: 2}
    registry = build_registry(lambda: {"t:0": st}, ingest, process=False)
    text = generate_latest(registry).decode("utf-8")
    assert '"' + HOSTILE + '"' not in text  # escaped, not pasted
    assert "\nx counter" not in text and not any(line.startswith("# TYPE x") for line in text.splitlines())
    _, samples = _scrape(registry)
    assert _by(samples, "glasswatch_model_events_total", "model") == {HOSTILE: 1, "lone\\ud800surrogate": 1}
    assert _by(samples, "glasswatch_windows_closed_total", "model") == {HOSTILE: 2}


def test_each_worker_has_its_own_registry_with_process_metrics() -> None:
    one = build_registry(dict, IngestMetrics())
    two = build_registry(dict, IngestMetrics())  # a second app in the same process: no clash
    families, _ = _scrape(one)
    assert "glasswatch_events_accepted" in families and "python_info" in families
    if sys.platform.startswith("linux"):
        assert families["process_resident_memory_bytes"].samples[0].value > 0
    assert "glasswatch_events_accepted" in _scrape(two)[0]
    assert not any(f.name.startswith("glasswatch_") for f in REGISTRY.collect())


def _web_app() -> tuple[faust.App, IngestMetrics]:
    app = faust.App("gw-unit-web", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=True)
    st = _known_states()["preds:0"]
    st.monitors, st.pending = {}, []  # as stored after a batch
    st.take_alerts()
    codec = StateCodec(b"unit-test-state-key")
    gw = GlasswatchApp(
        app=app,
        inputs=None,
        dead_letters=None,
        windows=None,
        alerts=None,
        state={"preds:0": encode_state(st, codec)},
        settings=Settings(),
        codec=codec,
    )
    metrics = _ingest()
    attach_web(gw, metrics, _book())
    return app, metrics


def test_metrics_served_with_and_without_trailing_slash() -> None:
    app, _ = _web_app()

    async def fetch() -> dict[str, tuple[int, str, str]]:
        async with TestClient(TestServer(app.web.web_app)) as client:
            out = {}
            for path in ("/metrics", "/metrics/", "/glasswatch/stats/"):
                resp = await client.get(path)
                out[path] = (resp.status, resp.headers["Content-Type"], await resp.text())
            return out

    got = asyncio.run(fetch())
    for path in ("/metrics", "/metrics/"):
        status, ctype, text = got[path]
        assert status == 200 and ctype == CONTENT_TYPE_LATEST
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        assert samples["glasswatch_events_accepted_total", ()] == 4
        assert samples["glasswatch_open_alerts", (("kind", "dead_letters"), ("severity", "critical"))] == 1
        assert Counter(n for n, _ in samples)["glasswatch_windows_closed_total"] == 2
    status, _, body = got["/glasswatch/stats/"]
    snap = json.loads(body)
    assert status == 200 and snap["accepted"] == 4
    process = snap["worker"]["process"]  # psutil: the worker's own footprint for `glasswatch status`
    assert process["rss_bytes"] > 10_000_000 and process["cpu_seconds"] > 0 and process["threads"] >= 1


@pytest.mark.parametrize("path", ["/metrics", "/metrics/"])
def test_metrics_pages_are_registered(path: str) -> None:
    app, _ = _web_app()
    assert path in app.web.views
