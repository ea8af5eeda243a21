"""Cost of the explanations: explainer throughput, and ingest with the explain process on vs off.

Prints JSON from one run:

* ``tree_explainer``: explanations/s of :func:`glasswatch.explain.explainers.explainer_for` (what
  the explain process runs: ``shap.TreeExplainer``, additivity-checked outputs) on the project's
  forest (``glasswatch train --estimator forest``: 100 trees, 30 features, breast-cancer rows),
  against bare ``shap.TreeExplainer.shap_values`` on the same rows (the wrapper's overhead,
  target ≥ 0.8×), and against ``predict_proba`` rows/s (what a prediction costs, for scale).
* ``lightgbm`` (a dev dependency; reported as skipped when it is not installed): explanations/s
  of :func:`~glasswatch.explain.explainers.explainer_for` (``shap.TreeExplainer``) on a LightGBM
  classifier (100 trees, 31 leaves, the same 30 features and rows) against LightGBM's own
  ``predict(pred_contrib=True)``, both with LightGBM's default threads and with one thread (the
  explain pool's worker is one process: the like-for-like figure); target ≥ 0.8×. The values
  agree within 1e-6 (checked on the measured rows).
* ``masker``: explanations/s of the logistic model's masker explainer (permutation, 100
  background rows).
* ``ingest`` (needs ``GLASSWATCH_KAFKA_BOOTSTRAP``): events/s of the glasswatch ingest worker
  (``bench/faust_runner.py`` ``glasswatch-monitors``, as ``bench/throughput.py``) over a topic of
  forest predictions (30 features each, envelopes of 500), without and with the explain process
  (:class:`glasswatch.agents.explain.ExplainRuntime` in another process, its spawned pool, the
  default sample rate 0.05 plus the predictions the default monitor spec's anomaly scorer flags)
  reading the same events with its own consumer group at the same time, one pass per round,
  interleaved rounds; the ratio of the medians (target ≥ 0.8), their spread, and the CPU share
  the explainer pool took (pool CPU seconds / (explain wall seconds × CPUs)).

Run: ``.venv/bin/python bench/explain.py [--rounds 5] [--ingest-rounds 3] [--events 40000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from glasswatch.explain.explainers import explainer_for, import_shap  # noqa: E402
from glasswatch.training.pipeline import TARGET, TrainConfig, _fit, load_splits  # noqa: E402


def _rows(n: int, seed: int = 0) -> pd.DataFrame:
    frame = load_splits(0)["validation"].drop(columns=[TARGET])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(frame), n)
    noise = rng.normal(1.0, 0.02, size=(n, frame.shape[1]))
    return pd.DataFrame(frame.to_numpy()[idx] * noise, columns=frame.columns)


def _rate(fn: Any, n: int, rounds: int) -> dict[str, float]:
    fn()  # warm
    rates = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - t))
    return {
        "median": round(statistics.median(rates), 1),
        "min": round(min(rates), 1),
        "max": round(max(rates), 1),
    }


def explainer_figures(rounds: int, rows: int) -> dict[str, Any]:
    splits = load_splits(0)
    features = [c for c in splits["train"].columns if c != TARGET]
    forest = _fit(splits["train"], features, TrainConfig(estimator="forest"))
    x = _rows(rows)
    ours = explainer_for(forest)
    shap = import_shap()
    bare = shap.TreeExplainer(forest[-1])
    xt = np.asarray(forest[:-1].transform(x), dtype=float)
    out: dict[str, Any] = {"rows": rows, "model": "RandomForestClassifier(100 trees), 30 features"}
    out["glasswatch_explainer_per_s"] = _rate(lambda: ours.explain(x), rows, rounds)
    out["bare_tree_explainer_per_s"] = _rate(
        lambda: bare.shap_values(xt, check_additivity=False), rows, rounds
    )
    out["predict_proba_rows_per_s"] = _rate(lambda: forest.predict_proba(x), rows, rounds)
    ratio = out["glasswatch_explainer_per_s"]["median"] / out["bare_tree_explainer_per_s"]["median"]
    out["ratio_vs_bare_tree_explainer"] = round(ratio, 3)
    out["target_ratio"], out["within_target"] = 0.8, ratio >= 0.8
    logistic = _fit(splits["train"], features, TrainConfig(estimator="logistic"))
    masker = explainer_for(logistic, splits["reference"].drop(columns=[TARGET]))
    small = x.head(20)
    out["masker_per_s"] = _rate(lambda: masker.explain(small), len(small), max(1, rounds // 2))
    return out


def lightgbm_figures(rounds: int, rows: int) -> dict[str, Any] | str:
    """TreeExplainer (through ``explainer_for``) vs LightGBM ``pred_contrib`` on the same rows."""
    if importlib.util.find_spec("lightgbm") is None:
        return "skipped: lightgbm is not installed (uv sync --group dev)"
    import lightgbm

    splits = load_splits(0)
    features = [c for c in splits["train"].columns if c != TARGET]
    # LightGBM renames whitespace in feature names to "_" (its feature_names_in_ then differs
    # from the data's columns): the bench fits on underscored names
    named = [c.replace(" ", "_") for c in features]
    model = lightgbm.LGBMClassifier(n_estimators=100, num_leaves=31, random_state=0, verbose=-1)
    model.fit(splits["train"][features].set_axis(named, axis=1), splits["train"][TARGET])
    x = _rows(rows)[features].set_axis(named, axis=1)
    features = named
    ours = explainer_for(model)
    got = ours.explain(x.head(50))
    own = model.predict(x.head(50), pred_contrib=True)
    worst = max(abs(a.values[f] - own[i][j]) for i, a in enumerate(got) for j, f in enumerate(features))
    out: dict[str, Any] = {"rows": rows, "model": "LGBMClassifier(100 trees, 31 leaves), 30 features",
                           "explainer": ours.kind, "output": ours.output,
                           "max_abs_difference_vs_pred_contrib": float(worst)}
    out["glasswatch_explainer_per_s"] = _rate(lambda: ours.explain(x), rows, rounds)
    out["pred_contrib_per_s"] = _rate(lambda: model.predict(x, pred_contrib=True), rows, rounds)
    out["pred_contrib_1_thread_per_s"] = _rate(
        lambda: model.predict(x, pred_contrib=True, num_threads=1), rows, rounds
    )
    ours_med = out["glasswatch_explainer_per_s"]["median"]
    out["ratio_vs_pred_contrib"] = round(ours_med / out["pred_contrib_per_s"]["median"], 3)
    out["ratio_vs_pred_contrib_1_thread"] = round(ours_med / out["pred_contrib_1_thread_per_s"]["median"], 3)
    out["target_ratio"] = 0.8
    out["within_target"] = out["ratio_vs_pred_contrib"] >= 0.8
    out["within_target_1_thread"] = out["ratio_vs_pred_contrib_1_thread"] >= 0.8
    out["cpus"] = os.cpu_count() or 1
    return out


# -- the explain load (a subprocess) ---------------------------------------------------------
async def _explain_loop(out: Path, bootstrap: str, topic: str, events: int) -> None:
    """While ``out.run`` exists, explain ``topic`` from the start with a fresh group, again and
    again, as ``glasswatch explain run`` does; writes pool CPU seconds and wall time at the end."""
    import mlflow.sklearn

    from glasswatch.agents.explain import ExplainRuntime
    from glasswatch.agents.explain_models import ResolvedModel, Unavailable
    from glasswatch.agents.explain_pool import explain_pool

    splits = load_splits(0)
    features = tuple(c for c in splits["train"].columns if c != TARGET)
    model_dir = Path(tempfile.mkdtemp(prefix="gw-bench-model-")) / "model"
    forest = _fit(splits["train"], list(features), TrainConfig(estimator="forest"))
    mlflow.sklearn.save_model(forest, str(model_dir), serialization_format="cloudpickle")
    resolved = ResolvedModel(
        model="bench-bc", version="1", model_dir=str(model_dir), features=features, tree=True
    )

    class Local:
        def resolve(self, model: str, version: str) -> ResolvedModel | Unavailable:
            return resolved

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    pool = explain_pool(1)
    run, state = Path(f"{out}.run"), Path(f"{out}.state")
    cpu = wall = 0.0
    explained = anomalies = 0
    while not stop.is_set():
        if not run.exists():
            state.write_text("idle")
            await asyncio.sleep(0.05)
            continue
        if state.read_text() == "done":  # this round's pass is over; wait for the next
            await asyncio.sleep(0.05)
            continue
        runtime = ExplainRuntime(
            bootstrap=bootstrap,
            predictions_topic=topic,
            explanations_topic=f"{topic}.x",
            alerts_topic=f"{topic}.a",
            resolver=Local(),
            pool=pool,
            group_id=f"bench-explain-{uuid.uuid4().hex[:6]}",
            poll_timeout=0.2,
        )
        await runtime.start()
        state.write_text("busy")
        t = time.perf_counter()
        while runtime.stats.predictions < events and not stop.is_set():
            await runtime.poll()
            await runtime.drain_results()
        wall += time.perf_counter() - t
        cpu += runtime.stats.cpu_s
        explained += runtime.stats.explained
        anomalies += runtime.stats.anomalies
        await runtime.close()
        state.write_text("done")
    pool.shutdown(wait=True)
    out.write_text(json.dumps({"cpu_s": cpu, "wall_s": wall, "explained": explained, "anomalies": anomalies}))


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text() == text):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the explain load is not {text}")
        time.sleep(0.05)


def ingest_figures(bootstrap: str, rounds: int, events: int) -> dict[str, Any]:
    from throughput import _faust, _produce  # bench/throughput.py: the same measurement

    sys.path.insert(0, str(HERE.parent / "tests"))
    from kafka_helpers import create_topic

    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-explain-"))
    topic = f"bench-explain-{uuid.uuid4().hex[:6]}"
    asyncio.run(create_topic(bootstrap, topic, 1))
    t0 = datetime.now(UTC) - timedelta(hours=1)
    bc = [
        {
            "type": "prediction",
            "model": "bench-bc",
            "model_version": "1",
            "prediction_id": f"b-{i}",
            "event_time": (t0 + timedelta(milliseconds=50 * i)).isoformat(),
            "features": row,
        }
        for i, row in enumerate(_rows(events, seed=2).to_dict("records"))
    ]
    asyncio.run(_produce(bootstrap, topic, bc, 500))
    out = workdir / "explain-load.json"
    run, state = Path(f"{out}.run"), Path(f"{out}.state")
    load = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "explain.py"),
            "--load",
            str(out),
            "--topic",
            topic,
            "--events",
            str(events),
        ],
        env={**os.environ, "GLASSWATCH_KAFKA_BOOTSTRAP": bootstrap},
    )
    eps: dict[str, list[float]] = {"explain_off": [], "explain_on": []}

    def ingest() -> float:
        doc = _faust("glasswatch-monitors", topic, events, bootstrap, workdir)
        return float(events / doc["seconds"])

    try:
        _wait_for(state, "idle", load)
        for i in range(rounds):
            for side in ("explain_off", "explain_on") if i % 2 == 0 else ("explain_on", "explain_off"):
                if side == "explain_on":
                    run.write_text("1")
                    _wait_for(state, "busy", load)
                eps[side].append(ingest())
                if side == "explain_on":
                    _wait_for(state, "done", load)  # its pass over the same events is over
                    run.unlink()
                    _wait_for(state, "idle", load)
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(timeout=120)
    doc = json.loads(out.read_text())
    med = {k: statistics.median(v) for k, v in eps.items()}
    cpus = os.cpu_count() or 1
    return {
        "variant": "glasswatch ingest + every monitor, envelopes of 500 (bench/faust_runner.py)",
        "events": events,
        "rounds": rounds,
        "sample_rate": 0.05,
        "events_per_s": {k: {"median": round(med[k]), "min": round(min(v)), "max": round(max(v)),
                             "all": [round(x) for x in v]} for k, v in eps.items()},
        "ratio_on_vs_off": round(med["explain_on"] / med["explain_off"], 3),
        "target_ratio": 0.8,
        "within_target": med["explain_on"] / med["explain_off"] >= 0.8,
        "explained": doc["explained"],
        "explained_anomalies": doc.get("anomalies", 0),
        "explainer_cpu_share": round(doc["cpu_s"] / max(doc["wall_s"], 1e-9) / cpus, 4),
        "explainer_cpu_seconds": round(doc["cpu_s"], 3),
        "explain_wall_seconds": round(doc["wall_s"], 3),
        "cpus": cpus,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--ingest-rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    bootstrap = os.environ.get("GLASSWATCH_KAFKA_BOOTSTRAP", "")
    if args.load:
        asyncio.run(_explain_loop(args.load, bootstrap, args.topic, args.events))
        return
    sys.path.insert(0, str(HERE))
    doc: dict[str, Any] = {"tree_explainer": explainer_figures(args.rounds, args.rows),
                           "lightgbm": lightgbm_figures(args.rounds, args.rows)}
    doc["ingest"] = (
        ingest_figures(bootstrap, args.ingest_rounds, args.events)
        if bootstrap
        else "skipped: set GLASSWATCH_KAFKA_BOOTSTRAP to a broker"
    )
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
