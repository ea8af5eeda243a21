"""``glasswatch check RUN_ID``: the reproducibility checklist of an MLflow run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from glasswatch.errors import TrackingError
from glasswatch.settings import Settings
from glasswatch.training.tags import MONITOR_SPEC

__all__ = ["register"]

_CHECK_HELP = (
    "Audit the reproducibility of an MLflow run: seeds fixed, inputs logged with contexts and "
    "digests (one per data set: the sha256 of its file), system metrics present, SHAP summary, alert "
    f"thresholds defined (run tag {MONITOR_SPEC} or monitors/<model>.yaml), git commit recorded and "
    "clean (untracked files outside the package are listed as a note, not counted as dirty).\n\n"
    "Prints an aligned table; exits 1 naming every gap, 0 when there are none."
)
_HERE = Path(".")


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Attach ``check`` to ``app``."""

    @app.command(help=_CHECK_HELP)
    def check(
        run_id: str = typer.Argument(..., help="MLflow run id to audit."),
        tracking_uri: str | None = typer.Option(
            None, help="MLflow tracking URI (default: settings mlflow.tracking_uri)."),
        repo: Annotated[Path, typer.Option(
            help="Where monitors/<model>.yaml is looked up when the run has no "
            f"{MONITOR_SPEC} tag.")] = _HERE,
    ) -> None:
        """Audit a run's reproducibility."""
        from glasswatch.training.checklist import check_run

        try:
            result = check_run(run_id, tracking_uri or settings().mlflow.tracking_uri, repo)
        except TrackingError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        typer.echo(result.render())
        if not result.passed:
            typer.echo(f"gaps: {', '.join(result.gaps)}", err=True)
            raise typer.Exit(1)
