"""The evaluation metrics a registered model version was admitted with (the gate's metrics).

The label join compares production performance with them (``performance_drop``). They are the
metrics of the version's source run in MLflow (``mlflow.evaluate`` names: ``accuracy_score``,
``roc_auc``, ...). Blocking (MLflow over HTTP or SQLite): callers run it in an executor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["registered_metrics"]

log = logging.getLogger(__name__)


def registered_metrics(tracking_uri: str) -> Callable[[str, str], dict[str, float] | None]:
    """A ``(model, version) → metrics`` lookup on ``tracking_uri``; ``None`` when the version or
    its run is unknown (the caller then compares with the first labelled window)."""

    def lookup(model: str, version: str) -> dict[str, float] | None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri)
        try:
            mv = client.get_model_version(model, version)
            if not mv.run_id:
                return None
            return dict(client.get_run(mv.run_id).data.metrics)
        except MlflowException as exc:
            log.info("no registered metrics for %s version %s: %s", model, version, exc)
            return None

    return lookup
