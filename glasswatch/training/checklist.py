"""Reproducibility checklist of one MLflow run (``glasswatch check RUN_ID``).

Each check reads only what the run recorded (tags, params, metrics, inputs, artifacts), so a
run made without glasswatch is judged by the same rules and its gaps are named:

==================  ============================================================================
seeds               tag ``glasswatch.seeds_fixed=true`` and param ``seed``
inputs              at least one dataset input; every input has a context and ``glasswatch.sha256``,
                    shown as ``name:context sha256:<12 hex>``: the one digest of a data set
                    (MLflow's dataset digest is its prefix, :mod:`~glasswatch.training.data_version`)
system metrics      at least one ``system/...`` metric (runs shorter than MLflow's sampling
                    interval have none)
shap                artifact ``explain/shap_summary.json``
alert thresholds    run tag ``glasswatch.monitor_spec`` (set by the pipeline when it logged
                    ``monitors/<model>.yaml``), else the file ``<repo>/monitors/<model>.yaml``
                    for the run's ``glasswatch.model_name`` tag. The run tag is preferred: it
                    proves the spec existed when the model was trained.
git                 tag ``glasswatch.git.commit`` present and ``glasswatch.git.dirty=false``
untracked           a note, never a gap: untracked files outside the package (tag
                    ``glasswatch.git.untracked``), which do not make the tree dirty
==================  ============================================================================

Examples
--------
>>> c = Checklist("r1", (Check("seeds", True, "seed=1"), Check("git", False, "tree was dirty")))
>>> c.passed, c.gaps
(False, ('git',))
>>> print(c.render())
run r1
CHECK  STATUS  DETAIL
seeds  ok      seed=1
git    GAP     tree was dirty
>>> Checklist("r1", (Check("untracked", True, "notes.txt", note=True),)).render().splitlines()[-1]
'untracked  note    notes.txt'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from glasswatch.errors import TrackingError
from glasswatch.training import tags as tag

__all__ = ["SHORT_DIGEST", "Check", "Checklist", "check_run", "evaluate_run"]

SHORT_DIGEST = 12
"""Hex characters of a data set's sha256 shown in the table."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    note: bool = False
    """Information, not a check: shown with status ``note``, never a gap."""


@dataclass(frozen=True)
class Checklist:
    run_id: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def gaps(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if not c.ok)

    def render(self) -> str:
        """Plain-text table, columns aligned with spaces."""
        rows = [("CHECK", "STATUS", "DETAIL")] + [
            (c.name, "note" if c.note else "ok" if c.ok else "GAP", c.detail) for c in self.checks]
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        lines = [f"run {self.run_id}"] + [f"{a:<{w0}}  {b:<{w1}}  {d}".rstrip() for a, b, d in rows]
        return "\n".join(lines)


def _seeds(run: Run) -> Check:
    tags, params = run.data.tags, run.data.params
    if tags.get(tag.SEEDS_FIXED) == "true" and "seed" in params:
        libs = sorted(k.removeprefix("seed.") for k in params if k.startswith("seed."))
        return Check("seeds", True, f"seed={params['seed']} ({', '.join(libs)})")
    return Check("seeds", False, f"no {tag.SEEDS_FIXED} tag / seed param: seeds were not fixed")


def _inputs(run: Run) -> Check:
    inputs = run.inputs.dataset_inputs if run.inputs else []
    if not inputs:
        return Check("inputs", False, "no dataset inputs logged")
    bad = []
    contexts = []
    for item in inputs:
        tags = {t.key: t.value for t in item.tags}
        if tag.MLFLOW_DATA_CONTEXT not in tags or tag.INPUT_SHA256 not in tags:
            bad.append(item.dataset.name)
        else:
            sha = tags[tag.INPUT_SHA256][:SHORT_DIGEST]
            contexts.append(f"{item.dataset.name}:{tags[tag.MLFLOW_DATA_CONTEXT]} sha256:{sha}")
    if bad:
        return Check("inputs", False, f"inputs without context or sha256: {', '.join(bad)}")
    return Check("inputs", True, f"{len(inputs)} with sha256 ({', '.join(contexts)})")


def _system_metrics(run: Run) -> Check:
    keys = [k for k in run.data.metrics if k.startswith("system/")]
    if keys:
        return Check("system metrics", True, f"{len(keys)} system/ metrics")
    return Check("system metrics", False, "no system/ metrics (log_system_metrics off, or run too short)")


def _shap(client: MlflowClient, run_id: str) -> Check:
    names = {a.path for a in client.list_artifacts(run_id, "explain")}
    if "explain/shap_summary.json" in names:
        extra = " + png" if "explain/shap_summary.png" in names else ""
        return Check("shap", True, f"explain/shap_summary.json{extra}")
    return Check("shap", False, "no explain/shap_summary.json artifact")


def _thresholds(run: Run, repo: Path) -> Check:
    tags = run.data.tags
    if tags.get(tag.MONITOR_SPEC):
        return Check("alert thresholds", True, f"run tag: {tags[tag.MONITOR_SPEC]}")
    model = tags.get(tag.MODEL_NAME)
    if not model:
        return Check("alert thresholds", False, f"no {tag.MONITOR_SPEC} tag and no model name tag")
    spec = repo / "monitors" / f"{model}.yaml"
    if spec.is_file():
        return Check("alert thresholds", True, f"file {spec} (not recorded on the run)")
    return Check("alert thresholds", False, f"no {tag.MONITOR_SPEC} tag and no {spec}")


def _git(run: Run) -> Check:
    tags = run.data.tags
    commit = tags.get(tag.GIT_COMMIT)
    if not commit:
        return Check("git", False, "no git commit recorded")
    if tags.get(tag.GIT_DIRTY) != "false":
        return Check("git", False, f"commit {commit[:12]} but the tree was dirty (see repro/git.diff)")
    return Check("git", True, f"{commit[:12]} on {tags.get(tag.GIT_BRANCH, '?')}, clean")


def _untracked(run: Run) -> tuple[Check, ...]:
    listed = run.data.tags.get(tag.GIT_UNTRACKED)
    if not listed:
        return ()
    return (Check("untracked", True, f"not in the package, not counted as dirty: {listed}", note=True),)


def evaluate_run(run: Run, client: MlflowClient, repo: Path = Path(".")) -> Checklist:
    """Run every check against an already fetched run."""
    run_id = run.info.run_id
    checks = (_seeds(run), _inputs(run), _system_metrics(run), _shap(client, run_id),
              _thresholds(run, repo), _git(run), *_untracked(run))
    return Checklist(run_id, checks)


def check_run(run_id: str, tracking_uri: str | None = None, repo: Path = Path(".")) -> Checklist:
    """Fetch ``run_id`` and check it; raises :class:`TrackingError` when it cannot be read."""
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
        return evaluate_run(run, client, repo)
    except MlflowException as exc:
        raise TrackingError(f"cannot read run {run_id}: {exc.message}") from exc
