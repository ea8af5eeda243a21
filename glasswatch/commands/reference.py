"""``glasswatch reference register MODEL VERSION FILE|RUN_ID``: give a model version its reference.

For models trained elsewhere (``glasswatch train`` registers one itself): the data set becomes
an artifact and a dataset input (context ``reference``, with its sha256) of the version's run and
the version tags ``glasswatch.reference.uri`` / ``.sha256`` point at it, which is what the drift
agent resolves (:mod:`glasswatch.training.registry`). ``FILE`` is a CSV or Parquet file; a
``RUN_ID`` names an MLflow run whose CSV / Parquet artifact is the data (``--artifact`` picks one
when the run has several).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from glasswatch.commands.context import CommandContext
from glasswatch.errors import ConfigError, TrackingError

__all__ = ["register"]

_DATA_SUFFIXES = (".csv", ".parquet")


def _run_artifact(client: object, run_id: str, artifact: str | None, dst: str) -> Path:
    from mlflow.tracking import MlflowClient

    assert isinstance(client, MlflowClient)
    if artifact is None:
        found: list[str] = []
        todo = [""]
        while todo and len(found) < 50:
            for f in client.list_artifacts(run_id, todo.pop() or None):
                if f.is_dir:
                    todo.append(f.path)
                elif f.path.endswith(_DATA_SUFFIXES):
                    found.append(f.path)
        if len(found) != 1:
            raise ConfigError(f"run {run_id} has {len(found)} CSV/Parquet artifacts {sorted(found)[:10]}: "
                              "choose one with --artifact")
        artifact = found[0]
    return Path(client.download_artifacts(run_id, artifact, dst))


def register(app: typer.Typer, context: CommandContext) -> None:
    """Attach the ``reference`` group to ``app``."""
    group = typer.Typer(help="Reference data sets of registered model versions (for drift).",
                        no_args_is_help=True)
    app.add_typer(group, name="reference")

    @group.command("register")
    def register_command(
        model: Annotated[str, typer.Argument(help="registered model name")],
        version: Annotated[str, typer.Argument(help="model version")],
        source: Annotated[str, typer.Argument(help="a CSV/Parquet file, or an MLflow run id")],
        target: Annotated[str, typer.Option(help="label column of the data (not a feature)")] = "target",
        artifact: Annotated[str | None, typer.Option(help="with a RUN_ID: the artifact path")] = None,
        tracking_uri: Annotated[str | None, typer.Option(
            help="MLflow tracking URI (default: settings mlflow.tracking_uri)")] = None,
    ) -> None:
        """Log FILE (or RUN_ID's data artifact) as the reference of MODEL VERSION."""
        from mlflow.tracking import MlflowClient

        from glasswatch.training.datasets import register_reference

        uri = tracking_uri or context().mlflow.tracking_uri
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(source)
                if not path.is_file():
                    path = _run_artifact(client, source, artifact, tmp)
                ref_uri, digest = register_reference(client, model, version, path, target=target)
        except (ConfigError, TrackingError) as exc:
            typer.echo(f"{type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from exc
        except Exception as exc:  # an unreadable run id / file: one line, not a traceback
            typer.echo(f"cannot register {source}: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"reference  {ref_uri}")
        typer.echo(f"sha256     {digest}")
        typer.echo(f"model      {model} v{version}")
