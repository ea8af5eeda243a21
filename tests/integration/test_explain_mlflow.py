"""The explain process against a real MLflow server and a real broker: a forest trained by
``glasswatch train --estimator forest``, sampled explanations on the topic (additive), one
``model_unavailable`` for a version that cannot be loaded, a replay that explains alike, and the
loss basis: labels that come to depend on another feature raise ``attribution_drift``."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.ensemble import RandomForestClassifier
from typer.testing import CliRunner

from glasswatch.agents.explain import ExplainRuntime
from glasswatch.agents.explain_models import MlflowModelResolver
from glasswatch.agents.explain_pool import explain_pool
from glasswatch.agents.explain_runs import MlflowWindowRuns
from glasswatch.commands import train as train_command
from glasswatch.commands.context import CommandContext
from glasswatch.drift.reference import ReferenceCache
from glasswatch.explain.explainers import TREE_TOLERANCE
from glasswatch.explain.sampling import SampleRates, sample_reason
from glasswatch.schemas.alert import Alert, AlertKind
from glasswatch.settings import Settings
from glasswatch.training.datasets import register_reference
from glasswatch.training.explain import IMPORTANCE_TAG
from glasswatch.training.pipeline import TARGET, load_splits
from glasswatch.training.registry import MlflowReferenceStore
from glasswatch.training.tracking import import_pyfunc_quietly

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300, method="thread")]

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "explain-forest"
RATE = 0.3


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO_ROOT / "uv.lock", repo / "uv.lock")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "fixture"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            check=True,
            capture_output=True,
        )
    return repo


@pytest.fixture(scope="module")
def forest_version(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``glasswatch train --estimator forest`` once for the module; the registered version."""
    return _train(mlflow_server, tmp_path_factory.mktemp("train"))


def _train(tracking_uri: str, tmp_path: Path) -> str:
    app = typer.Typer()
    context = CommandContext(settings=Settings, environ=dict)
    train_command.register(app, context)
    app.command("noop")(lambda: None)  # two commands: ``train`` stays a subcommand
    out = CliRunner().invoke(
        app,
        [
            "train",
            "--estimator",
            "forest",
            "--model-name",
            MODEL,
            "--tracking-uri",
            tracking_uri,
            "--experiment",
            "it-explain",
            "--data-dir",
            str(tmp_path / "data"),
            "--repo",
            str(_repo(tmp_path)),
            "--alerts",
            "local",
            "--no-desktop",
            "--system-metrics-interval",
            "5",
        ],
    )
    assert out.exit_code == 0, out.output
    return next(
        line.split()[2].removeprefix("v")
        for line in out.output.splitlines()
        if line.startswith("model_version")
    )


def _events(version: str, t0: datetime) -> list[dict[str, Any]]:
    rows = load_splits(0)["validation"].drop(columns=[TARGET])
    out = []
    for i, row in enumerate(rows.head(80).to_dict("records")):
        out.append(
            {
                "type": "prediction",
                "model": MODEL,
                "model_version": version,
                "prediction_id": f"p-{i}",
                "event_time": (t0 + timedelta(seconds=3 * i)).isoformat(),
                "features": {k: float(v) for k, v in row.items()},
                "prediction": 1,
            }
        )
    for i in range(10):  # a version nobody registered
        out.append(
            {
                "type": "prediction",
                "model": MODEL,
                "model_version": "999",
                "prediction_id": f"q-{i}",
                "event_time": t0.isoformat(),
                "features": {"worst radius": 1.0},
            }
        )
    return out


async def _produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topic, json.dumps(e).encode())
    finally:
        await producer.stop()


async def _read(
    bootstrap: str, topic: str, expect: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline and not expect(out):
            batch = await consumer.getmany(timeout_ms=500)
            out.extend(json.loads(r.value) for recs in batch.values() for r in recs)
    finally:
        await consumer.stop()
    return out


async def _explain(
    bootstrap: str,
    tracking_uri: str,
    cache: Path,
    topics: dict[str, str],
    n: int,
    group: str,
    rate: float = RATE,
    runs: MlflowWindowRuns | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> ExplainRuntime:
    """Run the explain process over the topics until it read ``n`` records; ``pool``: a shared
    explain pool (left running), else one of its own."""
    runtime = ExplainRuntime(
        bootstrap=bootstrap,
        predictions_topic=topics["predictions"],
        explanations_topic=topics["explanations"],
        alerts_topic=topics["alerts"],
        resolver=MlflowModelResolver(tracking_uri, cache),
        rates=SampleRates(default=rate),
        group_id=group,
        pool=pool or explain_pool(1),
        window_s=60.0,
        poll_timeout=0.5,
        runs=runs,
        labels_topic=topics.get("labels"),
    )
    await runtime.start()
    try:
        deadline = asyncio.get_running_loop().time() + 120
        while runtime.stats.records < n and asyncio.get_running_loop().time() < deadline:
            await runtime.poll()
            await runtime.drain_results()
        await runtime.flush()
    finally:
        await runtime.close()
        if pool is None:
            runtime.pool.shutdown(wait=True)
    return runtime


def test_sampled_forest_explanations_are_additive_replayable_and_an_unknown_version_alerts_once(
    tracking_uri: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., str],
    tmp_path: Path,
    forest_version: str,
) -> None:
    version = forest_version
    client = MlflowClient()
    importance_uri = client.get_model_version(MODEL, version).tags[IMPORTANCE_TAG]
    assert importance_uri.endswith("explain/global_importance.json")
    glob = json.loads(mlflow.artifacts.load_text(importance_uri))
    assert glob["explainer"] == "tree" and {"impurity", "permutation", "mean_abs_shap"} <= set(glob)
    png = client.download_artifacts(
        importance_uri.split("/")[1], "explain/global_importance.png", str(tmp_path)
    )
    assert Path(png).read_bytes()[:4] == b"\x89PNG"
    # the drift agent's reference store reads the same importance (drift alerts rank by it)
    store = MlflowReferenceStore(tracking_uri, ReferenceCache(tmp_path / "refs"), predict=False)
    reference = store.resolve(MODEL, version)
    assert reference is not None and reference.importance == glob["mean_abs_shap"]

    topics = {name: new_topic(prefix=f"explain-{name}") for name in ("predictions", "explanations", "alerts")}
    events = _events(version, datetime.now(UTC) - timedelta(minutes=10))
    asyncio.run(_produce(kafka_bootstrap, topics["predictions"], events))
    runtime = asyncio.run(
        _explain(kafka_bootstrap, tracking_uri, tmp_path / "models", topics, len(events), "it-explain-1")
    )
    assert runtime.stats.unavailable == sum(
        1 for e in events if e["model_version"] == "999" and sample_reason(e["prediction_id"], RATE)
    )
    assert runtime.stats.failures == 0 and runtime.stats.skipped_behind == 0

    expected_ids = {
        e["prediction_id"]
        for e in events
        if e["model_version"] == version and sample_reason(e["prediction_id"], RATE)
    }
    assert 10 < len(expected_ids) < 45
    records = asyncio.run(
        _read(
            kafka_bootstrap,
            topics["explanations"],
            lambda rs: sum(r["type"] == "explanation" for r in rs) >= len(expected_ids),
        )
    )
    explanations = {r["prediction_id"]: r for r in records if r["type"] == "explanation"}
    assert set(explanations) == expected_ids
    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    by_id = {e["prediction_id"]: e for e in events}
    for pid, ex in explanations.items():
        assert (ex["explainer"], ex["sample_reason"], ex["model_version"]) == ("tree", "sampled", version)
        assert abs(ex["base_value"] + sum(ex["attributions"].values()) - ex["model_output"]) < TREE_TOLERANCE
        own = model.predict_proba(pd.DataFrame([by_id[pid]["features"]]))[0, 1]
        assert ex["model_output"] == pytest.approx(own, abs=1e-12)
    windows = [r for r in records if r["type"] == "attribution_window"]
    assert windows and sum(w["explanations"] for w in windows) == len(expected_ids)

    alerts = [
        Alert.model_validate(a)
        for a in asyncio.run(_read(kafka_bootstrap, topics["alerts"], lambda rs: len(rs) >= 1))
    ]
    unavailable = [a for a in alerts if a.kind is AlertKind.MODEL_UNAVAILABLE]
    assert len(unavailable) == 1 and unavailable[0].labels["model_version"] == "999"

    # a replay of the same offsets (another group, another output topic) explains alike
    replay_topics = {
        **topics,
        "explanations": new_topic(prefix="explain-replay"),
        "alerts": new_topic(prefix="explain-replay-alerts"),
    }
    asyncio.run(
        _explain(
            kafka_bootstrap, tracking_uri, tmp_path / "models", replay_topics, len(events), "it-explain-2"
        )
    )
    again = asyncio.run(
        _read(
            kafka_bootstrap,
            replay_topics["explanations"],
            lambda rs: sum(r["type"] == "explanation" for r in rs) >= len(expected_ids),
        )
    )
    assert {r["prediction_id"]: r for r in again if r["type"] == "explanation"} == explanations


def test_inputs_that_make_the_model_lean_on_other_features_raise_attribution_drift(
    tracking_uri: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., str],
    tmp_path: Path,
    forest_version: str,
) -> None:
    """Two clean minutes of reference rows, then a minute whose eight most important features
    (training profile) are pinned at their training mean: the forest must decide on the others."""
    client = MlflowClient()
    uri = client.get_model_version(MODEL, forest_version).tags[IMPORTANCE_TAG]
    run_id, path = uri.removeprefix("runs:/").split("/", 1)
    training = json.loads(Path(client.download_artifacts(run_id, path, str(tmp_path))).read_text())
    top = list(training["mean_abs_shap"])[:8]
    splits = load_splits(0)
    reference = splits["reference"].drop(columns=[TARGET])
    pinned = reference.assign(**{c: float(splits["train"][c].mean()) for c in top})
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    rows = [
        *reference.head(60).to_dict("records"),
        *reference.tail(60).to_dict("records"),
        *pinned.head(60).to_dict("records"),
        *reference.head(30).to_dict("records"),
    ]
    events = [
        {
            "type": "prediction",
            "model": MODEL,
            "model_version": forest_version,
            "prediction_id": f"d-{i}",
            "event_time": (t0 + timedelta(seconds=i)).isoformat(),
            "features": {k: float(v) for k, v in row.items()},
        }
        for i, row in enumerate(rows)
    ]
    topics = {
        name: new_topic(prefix=f"explain-drift-{name}") for name in ("predictions", "explanations", "alerts")
    }
    asyncio.run(_produce(kafka_bootstrap, topics["predictions"], events))
    runtime = asyncio.run(
        _explain(
            kafka_bootstrap,
            tracking_uri,
            tmp_path / "models",
            topics,
            len(events),
            "it-explain-drift",
            rate=1.0,
            runs=MlflowWindowRuns(tracking_uri),
        )
    )
    assert runtime.stats.explained == len(events)
    records = asyncio.run(
        _read(
            kafka_bootstrap,
            topics["explanations"],
            lambda rs: sum(r["type"] == "attribution_window" for r in rs) >= 4,
        )
    )
    windows = sorted((r for r in records if r["type"] == "attribution_window"), key=lambda r: r["start"])
    assert [w["drifted"] for w in windows] == [False, False, True, False], windows
    assert windows[2]["rank_correlation"] < 0.5 or windows[2]["distance"] > 0.5
    alerts = [
        Alert.model_validate(a)
        for a in asyncio.run(_read(kafka_bootstrap, topics["alerts"], lambda rs: len(rs) >= 2))
    ]
    drift = [a for a in alerts if a.kind is AlertKind.ATTRIBUTION_DRIFT]
    assert [a.status.value for a in drift] == ["firing", "resolved"], [a.summary for a in alerts]
    fired = drift[0]
    assert fired.evidence["training_top_features"] == list(training["mean_abs_shap"])[:5]
    assert [f["feature"] for f in fired.evidence["top_features"]] != fired.evidence["training_top_features"]
    assert fired.evidence["rank_correlation"] == windows[2]["rank_correlation"]
    # the third window: no band learned yet, the fixed guard fires
    assert fired.evidence["rules"] and all(r.startswith("fixed_") for r in fired.evidence["rules"])
    assert fired.lineage.model_version == forest_version
    # the window's run in MLflow: SHAP bar and beeswarm, the attributions as CSV, and the
    # waterfall of the representative event, linked from the alert
    assert fired.links.mlflow_run is not None and fired.lineage.mlflow_run_id
    run_id = fired.lineage.mlflow_run_id
    names = {a.path for a in client.list_artifacts(run_id, "explain")}
    assert {
        "explain/shap_bar.png",
        "explain/shap_beeswarm.png",
        "explain/attributions.csv",
        "explain/waterfall.png",
        "explain/window.json",
    } <= names
    assert fired.evidence["waterfall"] == f"runs:/{run_id}/explain/waterfall.png"
    for png in ("shap_bar.png", "shap_beeswarm.png", "waterfall.png"):
        assert (
            Path(client.download_artifacts(run_id, f"explain/{png}", str(tmp_path))).read_bytes()[:4]
            == b"\x89PNG"
        )
    table = pd.read_csv(client.download_artifacts(run_id, "explain/attributions.csv", str(tmp_path)))
    assert len(table) == windows[2]["explanations"] == 60
    shap_cols = [c for c in table.columns if c.startswith("shap.")]
    assert (
        (table["base_value"] + table[shap_cols].sum(axis=1) - table["model_output"]).abs() < TREE_TOLERANCE
    ).all()


CONCEPT_MODEL = "explain-concept-forest"


def _concept_frame(seed: int, n: int) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """i.i.d. inputs a..d; labels that depend on ``a`` and, the moved concept, on ``b``."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    noise = rng.normal(scale=0.3, size=n)
    return x, (x["a"] + noise > 0).astype(int), (x["b"] + noise > 0).astype(int)


@pytest.fixture(scope="module")
def concept_version(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 30-tree forest of y ~ a, registered with a labelled reference (no importance tag: the
    output basis is off, only the loss basis judges)."""
    import mlflow

    tmp = tmp_path_factory.mktemp("concept")
    x, y, _ = _concept_frame(0, 2000)
    forest = RandomForestClassifier(n_estimators=30, min_samples_leaf=5, random_state=0).fit(x, y)
    mlflow.set_tracking_uri(mlflow_server)
    try:
        import_pyfunc_quietly()
        mlflow.set_experiment("it-explain-loss")
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                forest, name="model", signature=infer_signature(x, forest.predict_proba(x)),
                pip_requirements=["scikit-learn"], skops_trusted_types=["sklearn.tree._tree.Tree"])
        version = str(mlflow.register_model(info.model_uri, CONCEPT_MODEL).version)
        reference, ref_y, _ = _concept_frame(1, 300)
        path = tmp / "reference.csv"
        reference.assign(target=ref_y).to_csv(path, index=False)
        register_reference(MlflowClient(mlflow_server), CONCEPT_MODEL, version, path, target="target")
    finally:
        mlflow.set_tracking_uri(None)
    return version


def _labelled_stream(
    version: str, t0: datetime, moved: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two event-time minutes from ``t0``: 60 predictions, then 100 whose labels follow ``b`` when
    ``moved``; each label two seconds after its prediction."""
    x, y_a, y_b = _concept_frame(2, 160)
    times = [t0 + timedelta(seconds=0.9 * i) for i in range(60)]
    times += [t0 + timedelta(seconds=60 + 0.5 * i) for i in range(100)]
    predictions, labels = [], []
    for i, (row, t) in enumerate(zip(x.to_dict("records"), times, strict=True)):
        predictions.append({"type": "prediction", "model": CONCEPT_MODEL, "model_version": version,
                            "prediction_id": f"c-{i}", "event_time": t.isoformat(),
                            "features": {k: float(v) for k, v in row.items()}})
        label = int(y_b.iloc[i] if moved and i >= 60 else y_a.iloc[i])
        labels.append({"type": "label", "model": CONCEPT_MODEL, "prediction_id": f"c-{i}",
                       "event_time": (t + timedelta(seconds=2)).isoformat(), "label": label})
    return predictions, labels


@pytest.mark.timeout(120, method="thread")
def test_labels_that_come_to_depend_on_another_feature_raise_attribution_drift_on_the_loss(
    tracking_uri: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., str],
    tmp_path: Path,
    concept_version: str,
) -> None:
    """Same inputs, the target moves from ``a`` to ``b``: the output attributions cannot see it,
    the loss contributions can (``a`` stops lowering the loss). The unchanged stream stays quiet."""
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    pool = explain_pool(1)  # one pool for both streams: spawned and warmed once
    try:
        moved_run, moved_alerts = _run_labelled(kafka_bootstrap, tracking_uri, new_topic, tmp_path,
                                                (concept_version, t0), pool, moved=True)
        steady_run, _ = _run_labelled(kafka_bootstrap, tracking_uri, new_topic, tmp_path,
                                      (concept_version, t0), pool, moved=False)
    finally:
        pool.shutdown(wait=True)
    [fired] = moved_alerts
    assert (fired.kind, fired.status.value, fired.signal) == (
        AlertKind.ATTRIBUTION_DRIFT, "firing", "loss_attributions")
    assert fired.evidence["basis"] == "loss" and fired.evidence["labelled"] == 100
    turned = fired.evidence["turned"]
    assert [t["feature"] for t in turned] == ["a"], turned
    assert turned[0]["training_mean"] < 0
    assert turned[0]["window_mean"] > turned[0]["training_mean"] / 2
    assert fired.labels["model_version"] == concept_version
    assert fired.evidence["window"]["start"] == (t0 + timedelta(minutes=1)).isoformat()  # the 2nd minute
    assert moved_run.stats.alerts == 1
    assert steady_run.stats.alerts == 0  # the same stream, the concept unchanged: quiet


def _run_labelled(
    bootstrap: str, tracking_uri: str, new_topic: Callable[..., str], tmp_path: Path,
    stream: tuple[str, datetime], pool: ProcessPoolExecutor, *, moved: bool,
) -> tuple[ExplainRuntime, list[Alert]]:
    """The explain process with labels over one labelled stream; the alerts when ``moved``."""
    topics = {name: new_topic(prefix=f"explain-loss-{name}")
              for name in ("predictions", "labels", "explanations", "alerts")}
    predictions, labels = _labelled_stream(*stream, moved)
    asyncio.run(_produce(bootstrap, topics["predictions"], predictions))
    asyncio.run(_produce(bootstrap, topics["labels"], labels))
    runtime = asyncio.run(_explain(bootstrap, tracking_uri, tmp_path / "models", topics,
                                   len(predictions) + len(labels), f"it-explain-loss-{moved}", rate=1.0,
                                   pool=pool))
    loss = runtime.stats.loss
    assert (runtime.stats.explained, loss.labels, loss.explained) == (160, 160, 160), loss
    assert (loss.labels_unknown, loss.labels_evicted, loss.skipped_behind, loss.failures) == (0, 0, 0, 0)
    assert loss.windows == 2 and loss.late == 0
    if not moved:
        return runtime, []
    alerts = asyncio.run(_read(bootstrap, topics["alerts"], lambda rs: len(rs) >= 1))
    return runtime, [Alert.model_validate(a) for a in alerts]
