"""The worker's reference baselines (issue 11): where references come from, bounded caches, the
rate cap, failures that fall back to learned bands, determinism, and the ingest agent's use of
them (fetched off the event loop, answered from memory)."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from fake_kafka import FakeApp, FakeEvent, FakeMessage

from glasswatch.agents.baselines import BaselineProvider, columns_of, pending_versions
from glasswatch.agents.ingest import process_batch
from glasswatch.drift.reference import InMemoryReferenceStore, Reference, file_digest
from glasswatch.errors import ConfigError, TrackingError
from glasswatch.ingest.tick_auth import TickAuth
from glasswatch.ingest.validate import Limits
from glasswatch.monitor.partition import PartitionState
from glasswatch.monitor.replay import Message, replay
from glasswatch.monitor.specs import MonitorSpec, load_spec_text, load_specs
from glasswatch.schemas.alert import AlertStatus
from glasswatch.settings import Settings
from glasswatch.testing.simulate import T0, simulate

WINDOW = {"size_seconds": 10.0}  # ~1,000 events per window at simulate's 100 events/s


def spec(model: str = "m", **kw: Any) -> MonitorSpec:
    return MonitorSpec(model=model, window=WINDOW, anomaly={"enabled": False}, **kw)


def frame(n: int = 20_000, seed: int = 99) -> pd.DataFrame:
    recs = simulate(n, seed=seed)
    rows = [{**(r.event.features or {}), "prediction": r.event.prediction} for r in recs]  # type: ignore[union-attr]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return frame()


def ref(data: pd.DataFrame, version: str = "1", sha: str = "a" * 64, model: str = "m") -> Reference:
    features = tuple(c for c in data.columns if c != "prediction")
    return Reference(model=model, version=version, data=data, uri="memory://ref", sha256=sha,
                     features=features, prediction="prediction")  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    def resolve(self, model: str, version: str) -> Reference | None:
        self.calls += 1
        raise TrackingError("cannot read m from http://mlflow: connection refused")


def provider(store: Any, s: MonitorSpec | None = None, **kw: Any) -> BaselineProvider:
    kw.setdefault("clock", Clock())
    sp = s or spec()
    return BaselineProvider(lambda _m: sp, store, **kw)


def test_lookup_answers_from_memory_only_and_prefetch_builds_from_the_reference(data: pd.DataFrame) -> None:
    store = InMemoryReferenceStore({("m", "1"): ref(data)})
    p = provider(store)
    assert p.lookup("m", "1") is None and store.resolved == []  # never fetches by itself
    p.prefetch([("m", "1"), ("m", "1")])
    b = p.lookup("m", "1")
    assert b is not None and store.resolved == [("m", "1")]
    assert (b.model, b.version, b.digest, b.window_events) == ("m", "1", "a" * 64, 1000)
    assert {"feature:x0:mean", "feature:segment:category_mix", "prediction:mean"} <= set(b.signals)
    assert b.signals["feature:x0:mean"].n_ref == 1000.0
    p.prefetch([("m", "1")])
    assert store.resolved == [("m", "1")]  # cached


def test_same_reference_same_baseline_and_the_digest_seeds_it(data: pd.DataFrame) -> None:
    one = provider(InMemoryReferenceStore({("m", "1"): ref(data)}))
    two = provider(InMemoryReferenceStore({("m", "1"): ref(data.copy())}))
    other = provider(InMemoryReferenceStore({("m", "1"): ref(data, sha="b" * 64)}))
    for p in (one, two, other):
        p.prefetch([("m", "1")])
    assert one.lookup("m", "1") == two.lookup("m", "1")  # a replay builds the same bands
    assert one.lookup("m", "1") != other.lookup("m", "1")


def test_spec_section_sizes_the_bootstrap_and_counts_in_the_config_hash(data: pd.DataFrame) -> None:
    s = spec(baseline={"window_events": 200, "bootstrap_windows": 50, "expected_rate": 100.0})
    p = provider(InMemoryReferenceStore({("m", "1"): ref(data)}), s)
    p.prefetch([("m", "1")])
    b = p.lookup("m", "1")
    assert b is not None and b.window_events == 200 and "events:rate" in b.signals
    assert s.config_hash() != spec().config_hash()  # it changes decisions


def test_nan_becomes_none_for_the_bootstrap() -> None:
    df = pd.DataFrame({"x": [1.0, float("nan"), 3.0], "c": ["a", None, "b"]})
    assert columns_of(df, ["x", "c"]) == {"x": [1.0, None, 3.0], "c": ["a", None, "b"]}


def test_built_baselines_are_bounded_lru(data: pd.DataFrame) -> None:
    store = InMemoryReferenceStore({("m", v): ref(data, v) for v in "123"})
    p = provider(store, max_cached=2)
    p.prefetch([("m", "1"), ("m", "2")])
    assert p.lookup("m", "1") is not None  # used: "2" is now the oldest
    p.prefetch([("m", "3")])
    assert p.lookup("m", "2") is None and p.lookup("m", "1") is not None and p.lookup("m", "3") is not None
    assert len(p._built) == 2


def test_a_version_without_reference_is_asked_again_only_after_retry_s_in_bounded_memory(
    data: pd.DataFrame,
) -> None:
    store = InMemoryReferenceStore({("m", "1"): ref(data)})
    clock = Clock()
    p = provider(store, clock=clock, retry_s=600.0, max_negative=2)
    p.prefetch([("m", "9")])
    p.prefetch([("m", "9")])
    assert store.resolved == [("m", "9")] and p.lookup("m", "9") is None
    clock.t += 601
    p.prefetch([("m", "9")])
    assert store.resolved == [("m", "9")] * 2
    p.prefetch([("m", "x"), ("m", "y")])  # two more: the negative cache holds two
    assert len(p._negative) == 2
    p.prefetch([("m", "9")])  # forgotten, so asked again
    assert store.resolved.count(("m", "9")) == 3


def test_lookups_per_minute_are_capped_and_the_cap_is_logged_once(
    data: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryReferenceStore({("m", v): ref(data, v) for v in "12"})
    clock = Clock()
    p = provider(store, clock=clock, max_per_minute=2)
    with caplog.at_level(logging.WARNING, "glasswatch.agents.baselines"):
        p.prefetch([("m", "a"), ("m", "b"), ("m", "1"), ("m", "2")])
    assert store.resolved == [("m", "a"), ("m", "b")]  # invented versions used the budget
    assert p.lookup("m", "1") is None and p.stats.throttled == 2
    assert len([r for r in caplog.records if "a minute" in r.message]) == 1
    clock.t += 61  # not negative-cached: fetched when the budget allows
    p.prefetch([("m", "1")])
    assert p.lookup("m", "1") is not None


def test_a_registry_error_gives_learned_bands_and_one_warning_per_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = Failing()
    clock = Clock()
    p = provider(failing, clock=clock, retry_s=60.0)
    with caplog.at_level(logging.WARNING, "glasswatch.agents.baselines"):
        for _ in range(3):
            p.prefetch([("m", "1")])
            assert p.lookup("m", "1") is None
            clock.t += 61
    assert failing.calls == 3 and p.stats.errors == 3
    warned = [r for r in caplog.records if "no reference baseline for m v1" in r.message]
    assert len(warned) == 1 and "TrackingError" in warned[0].message and warned[0].exc_info is None


def test_sources_none_and_mlflow_without_registry_fetch_nothing(data: pd.DataFrame) -> None:
    store = InMemoryReferenceStore({("m", "1"): ref(data)})
    off = provider(store, spec(baseline={"source": "none"}))
    off.prefetch([("m", "1")])
    assert store.resolved == [] and off.lookup("m", "1") is None
    without = provider(None, spec(baseline={"source": "mlflow"}))
    without.prefetch([("m", "1")])
    assert without.lookup("m", "1") is None and without.stats == type(without.stats)()


def test_file_source_needs_a_file() -> None:
    with pytest.raises(ConfigError, match="source 'file' needs a reference"):
        load_spec_text("model: m\nbaseline: {source: file}\n")


def test_a_reference_file_named_in_the_spec_relative_to_the_spec_file(
    data: pd.DataFrame, tmp_path: Path
) -> None:
    (tmp_path / "refs").mkdir()
    data.to_csv(tmp_path / "refs" / "m.csv", index=False)
    (tmp_path / "specs").mkdir()
    spec_file = tmp_path / "specs" / "monitors.yaml"
    spec_file.write_text("model: m\nwindow: {size_seconds: 10}\nanomaly: {enabled: false}\n"
                         "baseline: {reference: ../refs/m.csv, window_events: 500}\n")  # fmt: skip
    (s,) = load_specs(spec_file)
    assert s.baseline.reference == str((tmp_path / "refs" / "m.csv").resolve())
    store = InMemoryReferenceStore()  # auto: the file wins over the registry
    p = provider(store, s)
    p.prefetch([("m", "1"), ("m", "2")])
    one, two = p.lookup("m", "1"), p.lookup("m", "2")
    assert one is not None and two is not None and store.resolved == []
    assert one.digest == file_digest(tmp_path / "refs" / "m.csv") and one.window_events == 500
    assert (two.version, two.signals) == ("2", one.signals)  # one bootstrap per file content
    assert p.stats.fetched == 1 and p.stats.reused == 1
    again = provider(store, s)  # another process (a replay) builds the same baseline
    again.prefetch([("m", "1")])
    assert again.lookup("m", "1") == one


def test_a_missing_reference_file_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = provider(None, spec(baseline={"reference": str(tmp_path / "gone.csv")}))
    with caplog.at_level(logging.WARNING, "glasswatch.agents.baselines"):
        p.prefetch([("m", "1")])
    assert p.lookup("m", "1") is None and "FileNotFoundError" in caplog.text


# -- in the ingest agent ---------------------------------------------------------------------

AUTH = TickAuth(b"s" * 32)


_Msg = FakeMessage


_App = FakeApp


def _events(n: int, change_at: int, version: str = "1") -> list[FakeEvent]:
    recs = simulate(n, change="mean_shift", change_at=change_at, magnitude=1.0, seed=3)
    out = []
    for r in recs:
        body = orjson.loads(r.event.model_dump_json())
        body["model_version"] = version
        out.append(FakeEvent(_Msg("preds", 0, r.coord.offset, b"m"), orjson.dumps(body)))
    return out


def _firing(app: _App, prefix: str) -> list[dict[str, Any]]:
    alerts = [orjson.loads(v) for _, v in app.alerts.sent]
    return [a for a in alerts if a["status"] == AlertStatus.FIRING.value and a["signal"].startswith(prefix)]


def _ingest(app: _App, events: list[FakeEvent], p: BaselineProvider | None) -> None:
    now = T0 + timedelta(minutes=5)  # simulate's events are of "now"
    for i in range(0, len(events), 2000):
        asyncio.run(process_batch(app, events[i : i + 2000], limits=Limits(), clock=lambda: now,  # type: ignore[arg-type]
                                  spec_for=lambda _m: spec(), tick_auth=AUTH, baselines=p))  # fmt: skip


def test_process_batch_arms_a_new_version_from_its_reference_and_catches_an_early_change(
    data: pd.DataFrame,
) -> None:
    events = _events(8_000, change_at=2_500)  # x0 shifts by one std in the third window
    with_ref = _App()
    p = provider(InMemoryReferenceStore({("m", "1"): ref(data)}), spec())
    _ingest(with_ref, events, p)
    found = _firing(with_ref, "feature:x0:")
    assert found and found[0]["evidence"]["baseline"] == "reference"
    assert found[0]["evidence"]["reference_sha256"] == "a" * 64
    assert min(a["lineage"]["offsets"][0]["last"] for a in found) - 2_500 < 3 * 1000
    learned = _App()
    _ingest(learned, events, None)
    assert _firing(learned, "feature:x0:") == []  # the warm-up blind spot


def test_prepare_fetches_only_versions_the_monitors_have_not_met_and_a_slow_fetch_times_out(
    data: pd.DataFrame,
) -> None:
    release = threading.Event()

    class Slow(InMemoryReferenceStore):
        def resolve(self, model: str, version: str) -> Reference | None:
            release.wait(10)
            return super().resolve(model, version)

    store = Slow({("m", "1"): ref(data), ("m", "2"): ref(data, "2")})
    p = provider(store, timeout_s=0.05)
    st = PartitionState(topic="preds", partition=0)
    recs = simulate(50, seed=1)
    st.apply(0, [r.event for r in recs])
    assert pending_versions(st) == [("m", "1")]
    try:
        lookup = asyncio.run(p.prepare(st))
        assert p.stats.timeouts == 1 and lookup("m", "1") is None  # the batch went on without it
        asyncio.run(p.prepare(st))  # in flight: not fetched twice, not waited for again
        st2 = PartitionState(topic="preds", partition=1)
        st2.apply(0, [recs[0].event.model_copy(update={"model_version": "2"})])
        asyncio.run(p.prepare(st2))  # a new version while the registry hangs: not even started
        assert p.stats.timeouts == 1 and p.stats.deferred == 2
        fetching = [t for t in threading.enumerate() if t.name == "glasswatch-baselines"]
        assert fetching and all(t.daemon for t in fetching)  # a hanging registry never holds shutdown
    finally:
        release.set()
    for t in fetching:
        t.join(10)
    assert store.resolved == [("m", "1")] and p.lookup("m", "1") is not None
    p.timeout_s = 30.0
    assert asyncio.run(p.prepare(st2))("m", "2") is not None  # the registry answered: fetching again
    st.run_monitors(lambda _m: spec(), p.lookup)  # the monitor meets v1 ...
    st.apply(1, [recs[0].event.model_copy(update={"model_version": "2"}), recs[1].event])
    assert pending_versions(st) == [("m", "2")]  # ... and is not asked about it again


def test_a_replay_given_the_same_provider_rebuilds_the_reference_bands(data: pd.DataFrame) -> None:
    recs = simulate(6_000, change="mean_shift", change_at=2_500, magnitude=1.0, seed=3)
    msgs = [Message(r.coord, r.event.model_dump_json().encode()) for r in recs]

    def on_x0(p: BaselineProvider | None) -> list[Any]:
        alerts = replay(msgs, model="m", spec=spec(), baselines=p.resolve if p else None).alerts
        return [a for a in alerts if a.signal.startswith("feature:x0:")]

    with_ref = on_x0(provider(InMemoryReferenceStore({("m", "1"): ref(data)}), spec()))
    assert [a for a in with_ref if a.status is AlertStatus.FIRING]
    assert {a.evidence.get("baseline") for a in with_ref if a.status is AlertStatus.FIRING} == {"reference"}
    again = on_x0(provider(InMemoryReferenceStore({("m", "1"): ref(data.copy())}), spec()))
    assert [(a.id, a.evidence) for a in again] == [(a.id, a.evidence) for a in with_ref]
    assert on_x0(None) == []  # learned bands: the warm-up blind spot


def test_the_worker_builds_the_provider_from_settings(tmp_path: Path) -> None:
    from glasswatch.agents.baselines import LazyResolver
    from glasswatch.commands.worker import baseline_provider, reference_resolver
    from glasswatch.settings import MlflowSettings, WorkerSettings

    def settings(uri: str, **worker: Any) -> Settings:
        return Settings(
            mlflow=MlflowSettings(tracking_uri=uri), worker=WorkerSettings(data_dir=tmp_path, **worker)
        )

    assert baseline_provider(settings("http://mlflow:5000", baselines=False), lambda m: spec(m)) is None
    on = baseline_provider(settings("http://mlflow:5000"), lambda m: spec(m))
    assert on is not None and isinstance(on.store, LazyResolver)  # MLflow is imported on first use
    missing = f"sqlite:///{tmp_path}/none.db"
    assert reference_resolver(settings(missing)) is None  # nothing was ever registered there
    (tmp_path / "mlflow.db").touch()
    assert reference_resolver(settings(f"sqlite:///{tmp_path}/mlflow.db")) is not None
