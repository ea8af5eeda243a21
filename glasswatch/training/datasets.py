"""Data sets glasswatch logs to MLflow: its dataset sources, and reference registration.

MLflow records a dataset input with a *source* (where the rows came from). Ours are only URIs
plus details, never loaded through MLflow (``glasswatch drift rerun`` and the reference store
read them): :class:`KafkaOffsetsSource` for a production window (its exact offset ranges) and
:class:`RunArtifactSource` for a file logged as a run artifact (a reference).
:func:`dataset_input` makes one input with its ``mlflow.data.context`` tag.

:func:`register_reference` logs a data set as a model version's reference (the artifact, a
dataset input with context ``reference`` and its digest, the version tags
``glasswatch.reference.uri`` / ``.sha256`` / ``.target``) for models trained elsewhere; what
``glasswatch reference register`` runs. :class:`glasswatch.training.registry.MlflowReferenceStore`
resolves what it wrote. MLflow failures raise :class:`~glasswatch.errors.TrackingError`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from glasswatch.drift.reference import file_digest, read_frame
from glasswatch.errors import TrackingError
from glasswatch.training import tags as tag
from glasswatch.training.data_version import mlflow_digest, source_uri

__all__ = [
    "DEFAULT_TARGET",
    "KafkaOffsetsSource",
    "RunArtifactSource",
    "dataset_input",
    "register_reference",
]

DEFAULT_TARGET = "target"
"""The label column a reference is assumed to have when none is named."""


class _UriSource(DatasetSource):
    """A dataset source that is only a URI plus details (MLflow resolves none of ours)."""

    def __init__(self, uri: str, **details: Any) -> None:
        self.uri = uri
        self.details = details

    def load(self) -> Any:  # pragma: no cover - never loaded through MLflow
        raise NotImplementedError("read it with glasswatch (drift rerun, reference resolve)")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> _UriSource:  # pragma: no cover
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, **self.details}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> _UriSource:
        d = dict(source_dict)
        return cls(d.pop("uri"), **d)


class KafkaOffsetsSource(_UriSource):
    """A production window: ``kafka:<topic>:<partition>:<first>-<last>,...`` plus the ranges."""

    @staticmethod
    def _get_source_type() -> str:
        return "kafka"


class RunArtifactSource(_UriSource):
    """A file logged as a run artifact: ``runs:/<run id>/<path>``."""

    @staticmethod
    def _get_source_type() -> str:
        return "mlflow_run_artifact"


def dataset_input(df: pd.DataFrame, source: DatasetSource, name: str, context: str,
                  targets: str | None = None, extra: dict[str, str] | None = None) -> DatasetInput:
    """``df`` as an MLflow dataset input from ``source``, tagged with its ``context``
    (``production``, ``reference``) and the ``extra`` tags. When ``extra`` carries the file's
    sha256 (``glasswatch.sha256``), MLflow's digest is its prefix: one digest per data set."""
    sha256 = (extra or {}).get(tag.INPUT_SHA256)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        ds = from_pandas(df, source=source, name=name, targets=targets,
                         digest=mlflow_digest(sha256) if sha256 else None)
        entity = ds._to_mlflow_entity()
    tags = [InputTag(key=tag.MLFLOW_DATA_CONTEXT, value=context)]
    tags += [InputTag(key=k, value=v) for k, v in (extra or {}).items()]
    return DatasetInput(dataset=entity, tags=tags)


def register_reference(client: MlflowClient, model: str, version: str, path: str | Path,
                       *, target: str | None = DEFAULT_TARGET) -> tuple[str, str]:
    """Log the file at ``path`` as the reference of ``model`` v``version``: as an artifact and a
    dataset input (context ``reference``, with its sha256) of the version's run (a new run in
    ``glasswatch-references/<model>`` when the version has none) and as the version tags.
    Returns ``(uri, sha256)``; raises :class:`TrackingError`."""
    p = Path(path)
    digest = file_digest(p)
    df = read_frame(p)
    target = target if target in df.columns else None
    try:
        mv = client.get_model_version(model, version)
        run_id = mv.run_id
        if not run_id:
            name = f"glasswatch-references/{model}"
            exp = client.get_experiment_by_name(name)
            exp_id = exp.experiment_id if exp else client.create_experiment(name)
            run_id = client.create_run(exp_id, run_name=f"{model}-v{version}-reference").info.run_id
            client.set_terminated(run_id)
        client.log_artifact(run_id, str(p), "reference")
        uri = f"runs:/{run_id}/reference/{p.name}"
        extra = {tag.INPUT_SHA256: digest, tag.INPUT_PATH: source_uri(p)}
        client.log_inputs(run_id, [dataset_input(df, RunArtifactSource(uri, sha256=digest), "reference",
                                                 "reference", target, extra)])
        version_tags = {tag.REFERENCE_URI: uri, tag.REFERENCE_SHA256: digest}
        if target:
            version_tags[tag.REFERENCE_TARGET] = target
        for k, v in version_tags.items():
            client.set_model_version_tag(model, version, k, v)
    except MlflowException as exc:
        raise TrackingError(f"cannot register the reference of {model} v{version}: {exc.message}") from exc
    return uri, digest
