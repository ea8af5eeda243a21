"""Model versions for the explain process, resolved from the MLflow registry, cached (bounded).

:class:`MlflowModelResolver` turns ``(model, version)`` into a :class:`ResolvedModel`: the
version's ``models:/<model>/<version>`` artifacts downloaded under ``cache_dir`` and loaded once
with the scikit-learn flavour (to check they load and to read the input columns), the
training-time mean |SHAP| profile (version tag ``glasswatch.explain.importance``, see
:mod:`glasswatch.training.explain`) and a background sample of the version's reference data
(for the masker explainer) with, when the reference has its target column, the labels of those
rows (``background_labels``, same order: the training-time loss profile of
:mod:`glasswatch.explain.loss_drift` is computed on them). Anything that fails — no such
version, another flavour, an import error, an unreachable server — gives :class:`Unavailable`
with the reason; both outcomes are remembered (LRU, ``max_models``), so an unavailable version
is not asked about on every event (and raises one ``model_unavailable`` alert). Blocking: call
it from a thread.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from glasswatch.explain.explainers import DEFAULT_BACKGROUND, is_tree_model

__all__ = ["MlflowModelResolver", "ModelResolver", "ResolvedModel", "Unavailable"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedModel:
    model: str
    version: str
    model_dir: str
    features: tuple[str, ...]
    tree: bool
    training_profile: dict[str, float] | None = None
    background: pd.DataFrame | None = field(default=None, repr=False)
    run_id: str | None = None
    background_labels: tuple[object, ...] | None = field(default=None, repr=False)
    """The reference's target of the ``background`` rows (same order), ``None`` without one."""


@dataclass(frozen=True)
class Unavailable:
    reason: str


class ModelResolver(Protocol):
    def resolve(self, model: str, version: str) -> ResolvedModel | Unavailable: ...


class MlflowModelResolver:
    """:class:`ModelResolver` on an MLflow tracking server (see the module docstring)."""

    def __init__(self, tracking_uri: str, cache_dir: str | Path, *, max_models: int = 8, seed: int = 0,
                 background_rows: int = DEFAULT_BACKGROUND) -> None:
        self.tracking_uri = tracking_uri
        self.cache_dir = Path(cache_dir)
        self.max_models = max_models
        self.seed = seed
        self.background_rows = background_rows
        self._known: OrderedDict[tuple[str, str], ResolvedModel | Unavailable] = OrderedDict()

    def resolve(self, model: str, version: str) -> ResolvedModel | Unavailable:
        key = (model, version)
        if key not in self._known:
            try:
                self._known[key] = self._load(model, version)
            except Exception as exc:  # any failure to load is this version's unavailability
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("explain: %s v%s unavailable: %s", model, version, reason)
                self._known[key] = Unavailable(reason[:2000])
            while len(self._known) > self.max_models:
                self._known.popitem(last=False)
        self._known.move_to_end(key)
        return self._known[key]

    def _load(self, model: str, version: str) -> ResolvedModel:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import mlflow.artifacts
            import mlflow.sklearn
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
            mv = client.get_model_version(model, version)
            dest = self.cache_dir / _safe(model) / _safe(version)
            dest.mkdir(parents=True, exist_ok=True)
            local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model}/{version}",
                                                        dst_path=str(dest), tracking_uri=self.tracking_uri)
            fitted = mlflow.sklearn.load_model(local)
        names = getattr(fitted, "feature_names_in_", None)
        if names is None:
            raise ValueError("the model does not name its input features")
        features = tuple(str(n) for n in names)
        tags = dict(mv.tags or {})
        tree = is_tree_model(fitted)
        background, labels = self._background(model, version, features)
        if not tree and background is None:
            raise ValueError("a non-tree model is explained against its reference data, and this "
                             "version has no reference with its input columns")
        return ResolvedModel(model=model, version=str(version), model_dir=str(local), features=features,
                             tree=tree, training_profile=self._profile(client, tags),
                             background=background, run_id=mv.run_id, background_labels=labels)

    def _profile(self, client: Any, tags: dict[str, str]) -> dict[str, float] | None:
        from glasswatch.training.explain import IMPORTANCE_TAG

        uri = tags.get(IMPORTANCE_TAG)
        if not uri or not uri.startswith("runs:/"):
            return None
        run_id, path = uri.removeprefix("runs:/").split("/", 1)
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(run_id, path, tmp)
            doc = json.loads(Path(local).read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in doc["mean_abs_shap"].items()}

    def _background(self, model: str, version: str, features: tuple[str, ...]
                    ) -> tuple[pd.DataFrame | None, tuple[object, ...] | None]:
        from glasswatch.drift.reference import ReferenceCache
        from glasswatch.training.registry import MlflowReferenceStore

        store = MlflowReferenceStore(self.tracking_uri, ReferenceCache(self.cache_dir / "references"),
                                     predict=False)
        ref = store.resolve(model, version)
        if ref is None or not set(features) <= set(ref.data.columns):
            return None, None
        n = min(self.background_rows, len(ref.data))
        rows = ref.data.sample(n=n, random_state=self.seed).reset_index(drop=True)  # same rows as [features]
        labels = tuple(rows[ref.target].tolist()) if ref.target in rows.columns else None
        return rows[list(features)], labels


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "_"
