from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)

from glasswatch.training.checklist import evaluate_run


@dataclass
class _Artifact:
    path: str


class FakeClient:
    """Answers ``list_artifacts`` like MlflowClient for the checks that read artifacts."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[_Artifact]:
        return [_Artifact(p) for p in self.paths if path is None or p.startswith(f"{path}/")]


MLFLOW_DF_DIGEST = "c8c6fe13"  # what MLflow computes from a DataFrame when no digest is given


def _run(tags: dict[str, str], params: dict[str, str], metrics: list[str],
         inputs: list[tuple[str, dict[str, str]]]) -> Run:
    info = RunInfo(run_id="r1", experiment_id="0", user_id="u", status="FINISHED", start_time=0,
                   end_time=1, lifecycle_stage="active")
    data = RunData(metrics=[Metric(k, 1.0, 0, 0) for k in metrics],
                   params=[Param(k, v) for k, v in params.items()],
                   tags=[RunTag(k, v) for k, v in tags.items()])
    ds = [DatasetInput(Dataset(name, MLFLOW_DF_DIGEST, "local", "{}"), [InputTag(k, v) for k, v in t.items()])
          for name, t in inputs]
    return Run(info, data, RunInputs(ds))


GOOD_TAGS = {
    "glasswatch.seeds_fixed": "true",
    "glasswatch.git.commit": "a" * 40,
    "glasswatch.git.branch": "main",
    "glasswatch.git.dirty": "false",
    "glasswatch.monitor_spec": "monitors/m.yaml sha256=abc",
    "glasswatch.model_name": "m",
}
GOOD_INPUTS = [("train", {"mlflow.data.context": "training", "glasswatch.sha256": "f" * 64})]


def test_complete_run_passes() -> None:
    run = _run(GOOD_TAGS, {"seed": "1", "seed.numpy": "1"}, ["system/cpu_utilization_percentage"],
               GOOD_INPUTS)
    result = evaluate_run(run, FakeClient(["explain/shap_summary.json"]))  # type: ignore[arg-type]
    assert result.passed, result.render()
    assert result.gaps == ()


def test_each_gap_is_named(tmp_path: Path) -> None:
    tags = GOOD_TAGS | {"glasswatch.git.dirty": "true"}
    del tags["glasswatch.monitor_spec"]
    run = _run(tags, {}, ["loss"], [("raw", {"mlflow.data.context": "training"})])
    result = evaluate_run(run, FakeClient([]), repo=tmp_path)  # type: ignore[arg-type]
    assert result.gaps == ("seeds", "inputs", "system metrics", "shap", "alert thresholds", "git")
    text = result.render()
    assert "inputs without context or sha256: raw" in text
    assert "tree was dirty" in text
    assert f"no {tmp_path / 'monitors' / 'm.yaml'}" in text


def test_monitor_spec_file_in_repo_satisfies_thresholds(tmp_path: Path) -> None:
    (tmp_path / "monitors").mkdir()
    (tmp_path / "monitors" / "m.yaml").write_text("model: m\n")
    tags = {k: v for k, v in GOOD_TAGS.items() if k != "glasswatch.monitor_spec"}
    run = _run(tags, {"seed": "1"}, ["system/x"], GOOD_INPUTS)
    result = evaluate_run(run, FakeClient(["explain/shap_summary.json"]), repo=tmp_path)  # type: ignore[arg-type]
    assert result.passed
    assert "not recorded on the run" in result.render()


def test_render_aligns_columns() -> None:
    run = _run({}, {}, [], [])
    lines = evaluate_run(run, FakeClient([])).render().splitlines()  # type: ignore[arg-type]
    assert lines[0] == "run r1"
    starts = {line.index("GAP") for line in lines[2:]}
    assert len(starts) == 1
    assert lines[1].index("STATUS") in starts


def test_each_input_shows_one_digest_the_file_sha256() -> None:
    inputs = [("train", {"mlflow.data.context": "training", "glasswatch.sha256": "36560343" + "a" * 56}),
              ("reference", {"mlflow.data.context": "reference", "glasswatch.sha256": "e85b715f" + "b" * 56})]
    run = _run(GOOD_TAGS, {"seed": "1"}, ["system/x"], inputs)
    text = evaluate_run(run, FakeClient(["explain/shap_summary.json"])).render()  # type: ignore[arg-type]
    line = next(x for x in text.splitlines() if x.startswith("inputs"))
    assert "train:training sha256:36560343aaaa" in line
    assert "reference:reference sha256:e85b715fbbbb" in line
    assert line.count("sha256:") == 2  # one digest per data set
    assert MLFLOW_DF_DIGEST not in text


def test_untracked_files_outside_the_package_are_a_note_not_a_gap() -> None:
    tags = GOOD_TAGS | {"glasswatch.git.untracked": "notes.txt, scratch/x.ipynb"}
    run = _run(tags, {"seed": "1"}, ["system/x"], GOOD_INPUTS)
    result = evaluate_run(run, FakeClient(["explain/shap_summary.json"]))  # type: ignore[arg-type]
    assert result.passed
    assert result.gaps == ()
    lines = result.render().splitlines()
    git = next(x for x in lines if x.startswith("git "))
    note = next(x for x in lines if x.startswith("untracked"))
    assert " ok " in git and "clean" in git
    assert note.split()[1] == "note"
    assert "not in the package, not counted as dirty: notes.txt, scratch/x.ipynb" in note
    assert git.index("ok") == note.index("note")  # same STATUS column


def test_a_dirty_tree_stays_a_gap_with_untracked_files_listed_apart() -> None:
    tags = GOOD_TAGS | {"glasswatch.git.dirty": "true", "glasswatch.git.untracked": "notes.txt"}
    run = _run(tags, {"seed": "1"}, ["system/x"], GOOD_INPUTS)
    result = evaluate_run(run, FakeClient(["explain/shap_summary.json"]))  # type: ignore[arg-type]
    assert result.gaps == ("git",)
    note = next(x for x in result.render().splitlines() if x.startswith("untracked"))
    assert note.split()[1:3] == ["note", "not"]


def test_no_untracked_tag_no_note_row() -> None:
    run = _run(GOOD_TAGS, {"seed": "1"}, ["system/x"], GOOD_INPUTS)
    names = [c.name for c in evaluate_run(run, FakeClient([])).checks]  # type: ignore[arg-type]
    assert names == ["seeds", "inputs", "system metrics", "shap", "alert thresholds", "git"]
