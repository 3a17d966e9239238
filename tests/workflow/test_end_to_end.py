"""The whole study on a tiny synthetic cohort, through the real Snakemake, ending in the report.

synth -> ingest -> preprocess (atlas skull stripping at 6 mm) -> cohort -> train (one grid point,
four epochs) -> infer -> evaluate -> ``--report``. Next to the two synthetic cohorts sits a third
one of two bad patients (an all-zero FLAIR, a non-brain phantom) that must end as recorded
preprocessing exclusions while the good patients go on.

``tiny_run`` runs it once, uninterrupted, and a rerun must have nothing to do. Every output, log,
Snakemake record and the report are scanned for the synthetic PHI. ``interrupted_run`` runs the
same study in a second workspace, killed with SIGKILL three times (during preprocessing, during
training, during evaluation; see ``resilience.run_and_kill``) and rerun each time with the same
command: each rerun runs only what was incomplete, training resumes from its ``last.ckpt``, and
the finished outputs equal the uninterrupted run's byte for byte (same seed: same outputs).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from glioma.schema import PREDICTION_COLUMNS

from .conftest import SNAKEMAKE, Workspace
from .resilience import (
    Job,
    Snapshot,
    incomplete_outputs,
    phi_hits,
    planned_jobs,
    run_and_kill,
)

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

TINY = Path(__file__).parent / "tiny"
# e2e.yaml (written by prepare()): the tiny cohorts plus the bad-patient cohort, 4 epochs
CONFIG = ["--configfile", "config/config.yaml", "tests/workflow/tiny/overrides.yaml", "e2e.yaml"]
MAX_EPOCHS = 4  # enough epochs that a kill can land between two of them
FAULTS = "tiny_faults"
ALL_ZERO, NON_BRAIN = "allzero-01", "phantom-02"
SEQUENCES = ("t1", "t1c", "t2", "flair")


def _phantom(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A plausible scan header (4 mm voxels, 160 x 160 x 120 mm, centred) with a head-sized
    ellipsoid (``head``) or a 110 mm cube (``cube``, no brain at all) plus noise."""
    rng = np.random.default_rng(seed)
    shape, spacing = (40, 40, 30), 4.0
    grid = np.stack(np.meshgrid(*[(np.arange(s) - s / 2) * spacing for s in shape], indexing="ij"))
    if kind == "cube":
        inside = (np.abs(grid) <= 55).all(axis=0)
    else:
        inside = ((grid / np.array([70, 85, 60])[:, None, None, None]) ** 2).sum(axis=0) < 1
    data = np.clip(inside * 600 + rng.normal(0, 20, shape), 0, None).astype(np.int16)
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -np.array(shape) * spacing / 2
    return data, affine


def _write_fault_cohort(ws: Workspace) -> None:
    """nifti_folder cohort: an all-zero FLAIR (other scans plausible) and a non-brain phantom.
    Both pass ingest by design; preprocessing must exclude them with the reason."""
    raw = ws.root / "raw" / FAULTS
    for k, seq in enumerate(SEQUENCES):
        data, affine = _phantom("head", k)
        if seq == "flair":
            data = np.zeros_like(data)
        ws.save_nifti(raw / ALL_ZERO / f"{seq}.nii.gz", data, affine)
        ws.save_nifti(raw / NON_BRAIN / f"{seq}.nii.gz", *_phantom("cube", 10 + k))
    ws.write_cohort({"name": FAULTS, "layout": "nifti_folder", "raw_root": f"raw/{FAULTS}", "institute": FAULTS})


def prepare(root: Path, fast_scontrol: Path | None) -> Workspace:
    root.mkdir(parents=True)
    ws = Workspace(root, fast_scontrol)
    shutil.copytree(TINY, root / "tests" / "workflow" / "tiny")
    _write_fault_cohort(ws)
    cohorts = [{"file": f"tests/workflow/tiny/cohorts/{name}.yaml", "role": role}
               for name, role in (("tiny_train", "train"), ("tiny_test", "test"))]
    cohorts.append({"file": f"config/cohorts/{FAULTS}.yaml", "role": "train"})
    (root / "e2e.yaml").write_text(yaml.safe_dump({"cohorts": cohorts, "train": {"max_epochs": MAX_EPOCHS}}))
    return ws


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, fast_scontrol: Path | None) -> Workspace:
    ws = prepare(tmp_path_factory.mktemp("e2e") / "ws", fast_scontrol)
    ws.snakemake(*CONFIG, cores=2, timeout=1500)
    ws.snakemake("--report", "results/report.html", *CONFIG, cores=1, timeout=300)
    return ws


def test_every_stage_wrote_its_outputs(tiny_run: Workspace) -> None:
    results = tiny_run.path("results")
    summary = pd.read_csv(results / "ingest" / "inclusion_summary.tsv", sep="\t")
    assert set(summary["cohort"]) == {"tiny_train", "tiny_test", FAULTS}
    splits = pd.read_csv(results / "cohort" / "splits.tsv", sep="\t", dtype={"subject": str})
    assert set(splits["role"]) == {"train", "test"}
    assert (splits["fold"] == "val").any() and (splits["fold"] == "train").any()
    for name in ("model.pt", "model.json", "MODEL_CARD.md"):
        assert (results / "train" / "final" / name).is_file(), name
    metrics = pd.read_csv(results / "train" / "select" / "summary.tsv", sep="\t")
    assert metrics["epochs_trained"].tolist() == [MAX_EPOCHS]


def test_test_set_predictions_and_segmentations(tiny_run: Workspace) -> None:
    results = tiny_run.path("results")
    preds = pd.read_csv(results / "infer" / "tiny_test" / "predictions.csv", dtype={"subject": str})
    assert list(preds.columns) == list(PREDICTION_COLUMNS)
    included = pd.read_csv(results / "ingest" / "tiny_test" / "subjects.tsv", sep="\t", dtype={"subject": str})
    assert set(preds["subject"]) <= set(included.loc[included["included"] == 1, "subject"])
    assert len(preds) >= 3
    scores = preds[["score_grade_2", "score_grade_3", "score_grade_4"]].sum(axis=1)
    assert scores.sub(1).abs().max() < 1e-4
    for subject in preds["subject"]:
        assert (results / "infer" / "tiny_test" / subject / "seg.nii.gz").is_file()


def test_evaluation_tables_and_report(tiny_run: Workspace) -> None:
    folder = tiny_run.path("results/evaluate/tiny_test")
    table2 = pd.read_csv(folder / "table2.csv")
    assert list(table2.columns) == ["group", "task", "n", "auc", "auc_ci_low", "auc_ci_high", "accuracy",
                                    "sensitivity", "specificity"]
    oracle = pd.read_csv(folder / "model_vs_oracle.csv")
    assert list(oracle["task"]) == ["IDH", "1p19q", "grade", "dice"]
    report = tiny_run.path("results/report.html")
    assert report.stat().st_size > 100_000


def test_rerun_has_nothing_to_do(tiny_run: Workspace) -> None:
    run = tiny_run.snakemake("-n", *CONFIG)
    assert "Nothing to be done" in run.output


def test_changed_training_setting_reruns_training_and_threads_do_not(tiny_run: Workspace) -> None:
    """A model/train setting that changes what is learned (here the weight decay) plans the
    training jobs again (Snakemake's params trigger) and everything downstream; a thread count
    plans nothing, in training or preprocessing, nor does 6.0 mm for 6; a preprocessing setting
    (the crop margin) plans the patients' preprocessing and everything after it.
    Dry runs only: the finished run is left as it is. (Neither value is the demo config's:
    weight decay 1e-5, 2 threads with 1 in the tiny overrides.)"""
    root = tiny_run.root
    (root / "decay.yaml").write_text(yaml.safe_dump({"train": {"weight_decay": 3.0e-5}}))
    (root / "threads.yaml").write_text(yaml.safe_dump({"train": {"threads": 2, "progress_bar": False},
                                                       "preprocess": {"threads": 2, "resolution_mm": 6.0}}))
    assert "Nothing to be done" in tiny_run.snakemake("-n", *CONFIG, "threads.yaml").output
    rules = {job.rule for job in planned_jobs(tiny_run.snakemake("-n", *CONFIG, "decay.yaml").output)}
    assert {"train_select", "train_final", "infer", "evaluate_table2"} <= rules, rules
    assert not {"ingest_subject", "preprocess_subject"} & rules, rules
    (root / "margin.yaml").write_text(yaml.safe_dump({"preprocess": {"crop_margin_mm": 6}}))
    rules = {job.rule for job in planned_jobs(tiny_run.snakemake("-n", *CONFIG, "margin.yaml").output)}
    assert {"preprocess_subject", "train_select", "infer"} <= rules and "ingest_subject" not in rules, rules


def test_experiment_targets_run_on_the_finished_study_and_reach_the_report(tiny_run: Workspace,
                                                                           tmp_path: Path) -> None:
    """`snakemake experiments` on a copy of the finished tiny study (the original stays as the
    same-seed reference): the trained runs of both experiments, saliency and robustness run
    through the real rules, the main model is not retrained, the comparison tables hold every
    run, the report has the Experiments section, and a second dry run has nothing to do."""
    src = tiny_run.root
    root = tmp_path / "ws"
    shutil.copytree(src, root, symlinks=True,
                    ignore=lambda folder, names: {"workflow", "config"} & set(names) if Path(folder) == src else set())
    ws = Workspace(root, tiny_run.bin_dir)
    shutil.copytree(src / "config", root / "config", dirs_exist_ok=True)  # with the fault cohort's file
    config = yaml.safe_load((src / "config" / "config.yaml").read_text())
    config["experiments"].update({
        "ablation": {"runs": {"no_t1c": {"drop_sequences": ["t1c"], "description": "without T1c"}}},
        "subsets": {"runs": {"only_tiny_train": {"cohorts": ["tiny_train"]}, "frac50": {"fraction": 0.5}}},
        "bootstrap_resamples": 100,
    })
    ws.path("config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    model = ws.path("results/train/final/model.pt")
    model_mtime = model.stat().st_mtime_ns

    run = ws.snakemake("experiments", *CONFIG, cores=2, timeout=1200)
    rules = {job.rule for job in planned_jobs(run.output)}
    assert {"experiment_train", "experiment_infer", "experiment_compare", "experiment_saliency",
            "experiment_robustness"} <= rules, rules
    assert not {"train_select", "train_final", "preprocess_subject"} & rules, rules
    assert model.stat().st_mtime_ns == model_mtime
    exp = ws.path("results/experiments")
    ablation = pd.read_csv(exp / "ablation" / "tiny_test" / "comparison.csv")
    assert set(ablation["run"]) == {"full", "no_t1c"}
    subsets = pd.read_csv(exp / "subsets" / "tiny_test" / "comparison.csv")
    assert set(subsets["run"]) == {"full", "only_tiny_train", "frac50"}
    counts = subsets.groupby("run")["training_patients"].first()
    # every included training patient is tiny_train's (the fault cohort's are all excluded)
    assert counts["only_tiny_train"] == counts["full"] and 0 < counts["frac50"] < counts["full"]
    assert "Nothing to be done" in ws.snakemake("-n", "experiments", *CONFIG).output
    ws.snakemake("experiments", "--report", "results/experiments_report.html", *CONFIG, timeout=600)
    html = ws.path("results/experiments_report.html").read_text(errors="replace")
    assert "Experiments" in html and "comparison" in html


@pytest.mark.faults
def test_all_zero_and_non_brain_images_are_recorded_exclusions(tiny_run: Workspace) -> None:
    """Both pass ingest (by design), are excluded by preprocessing with a reason naming patient,
    file and problem (qc.json, the cohort's qc.tsv, cohort/excluded.tsv), and the good patients
    go on to training and test predictions."""
    results = tiny_run.path("results")
    sheet = pd.read_csv(results / "ingest" / FAULTS / "subjects.tsv", sep="\t", dtype=str).set_index("subject")
    assert sheet.loc[[ALL_ZERO, NON_BRAIN], "included"].tolist() == ["1", "1"]
    expected = {
        ALL_ZERO: [repr(ALL_ZERO), "flair.nii.gz", "empty image"],
        NON_BRAIN: [repr(NON_BRAIN), "t1c.nii.gz", "registration to the atlas failed QC"],
    }
    qc = pd.read_csv(results / "preprocess" / FAULTS / "qc.tsv", sep="\t", dtype=str, keep_default_na=False)
    qc = qc.set_index("subject")
    excluded = pd.read_csv(results / "cohort" / "excluded.tsv", sep="\t", dtype=str).set_index("subject")
    for subject, words in expected.items():
        folder = results / "preprocess" / FAULTS / subject
        record = json.loads((folder / "qc.json").read_text())
        assert record["status"] == "excluded", record
        assert [p.name for p in folder.iterdir()] == ["qc.json"]  # no volumes of a bad patient
        for reason in (record["reason"], qc.loc[subject, "reason"], excluded.loc[subject, "reason"]):
            for word in words:
                assert word in reason, f"{subject}: {word!r} not in {reason!r}"
        assert qc.loc[subject, "status"] == "excluded"
        assert excluded.loc[subject, "cohort"] == FAULTS
    assert "registration" not in qc.loc[ALL_ZERO, "reason"]  # caught before any registration
    splits = pd.read_csv(results / "cohort" / "splits.tsv", sep="\t", dtype=str)
    assert FAULTS not in set(splits["cohort"])
    good = []
    for cohort in ("tiny_train", "tiny_test"):
        table = pd.read_csv(results / "preprocess" / cohort / "qc.tsv", sep="\t", dtype=str)
        good += [(cohort, s) for s in table.loc[table["status"] == "ok", "subject"]]
    assert sorted(good) == sorted(zip(splits["cohort"], splits["subject"], strict=True))
    assert len(good) >= 8


def _phi_canaries(ws: Workspace) -> set[str]:
    canaries: set[str] = set()
    for listing in ws.path("results/raw").glob("*/phi_canaries.txt"):
        canaries |= {line.strip() for line in listing.read_text().splitlines() if line.strip()}
    return canaries


@pytest.mark.faults
def test_no_identifying_header_value_in_any_output(tiny_run: Workspace) -> None:
    """The generator's fake names, birth dates, MRNs and addresses (in the raw DICOM headers)
    appear nowhere outside the raw download: not in results/ (NIfTI headers, tables, figures,
    model files, the report with its embedded files), logs/ or Snakemake's records."""
    canaries = _phi_canaries(tiny_run)
    assert len(canaries) > 20
    raw = tiny_run.path("results/raw")
    files = [p for root in ("results", "logs", ".snakemake") for p in tiny_run.path(root).rglob("*")
             if p.is_file() and raw not in p.parents]
    assert tiny_run.path("results/report.html") in files
    assert any(p.name.endswith(".nii.gz") for p in files) and any(p.suffix == ".pdf" for p in files)
    assert any(tiny_run.path(".snakemake/log") in p.parents for p in files)
    hits = phi_hits(files, canaries)
    assert not hits, hits[:10]
    # the canaries are real: they are in the raw download the outputs were made from
    some_dicom = next(p for p in raw.rglob("*.dcm"))
    assert phi_hits([some_dicom], canaries)


# --- killed and resumed -------------------------------------------------------------------------


def _files(root: Path, pattern: str) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.glob(pattern)}


def _arm_preprocess(root: Path) -> bool:
    return len(_files(root, "results/preprocess/tiny_*/*/qc.json")) >= 2


def _fire_preprocess(root: Path) -> object:
    """Ingest finished (every subject sheet written); >= 2 patients of the synthetic cohorts
    preprocessed and >= 1 in the middle of its preprocessing."""
    incomplete = incomplete_outputs(root)
    sheets = _files(root, "results/ingest/*/subjects.tsv") - incomplete
    done = _files(root, "results/preprocess/tiny_*/*/qc.json") - incomplete
    running = {p for p in incomplete
               if re.fullmatch(r"results/preprocess/tiny_[^/]+/[^/]+/qc\.json", p) and not (root / p).exists()}
    return len(sheets) == 3 and len(done) >= 2 and bool(running)


def _arm_train(root: Path) -> bool:
    return (root / "results" / "cohort" / "splits.tsv").is_file()


def _fire_train(root: Path) -> object:
    """A model-selection run has its last.ckpt after 1 to MAX_EPOCHS - 1 epochs and is still running."""
    for run in (root / "results" / "train" / "select").glob("*/"):
        metrics, last = run / "metrics.csv", run / "checkpoints" / "last.ckpt"
        if (run / "result.json").exists() or not (metrics.is_file() and last.is_file()):
            continue
        epochs = len(pd.read_csv(metrics))
        if 1 <= epochs < MAX_EPOCHS:
            return {"run": run.relative_to(root).as_posix(), "epochs_done": epochs}
    return False


def _arm_evaluate(root: Path) -> bool:
    return (root / "results" / "infer" / "tiny_test" / "predictions.csv").is_file()


def _fire_evaluate(root: Path) -> object:
    """Test-set predictions done; >= 1 evaluation job finished and >= 1 running."""
    incomplete = incomplete_outputs(root)
    folder = "results/evaluate/tiny_test/"
    running = {p for p in incomplete if p.startswith(folder) and not (root / p).exists()}
    done = _files(root, f"{folder}*") - incomplete
    return "results/infer/tiny_test/predictions.csv" not in incomplete and bool(running) and bool(done)


KILL_POINTS = {  # name: (arm, fire, rules that must not rerun after the kill, where jobs were cut short)
    "preprocess": (_arm_preprocess, _fire_preprocess, {"synth_cohort", "ingest_discover", "ingest_subject", "ingest_sheet"},
                   "results/preprocess/tiny_"),
    "train": (_arm_train, _fire_train, {"synth_cohort", "ingest_subject", "preprocess_subject", "cohort_splits"},
              "results/train/select/"),
    "evaluate": (_arm_evaluate, _fire_evaluate, {"preprocess_subject", "train_select", "train_final", "infer"},
                 "results/evaluate/tiny_test/"),
}
# rules whose job owns its output folder (writes files there beyond its declared outputs)
FOLDER_OWNERS = {"synth_cohort", "ingest_subject", "preprocess_subject", "train_select", "train_final", "infer"}


@dataclass
class KillPoint:
    snapshot: Snapshot  # results/ and Snakemake's incomplete markers at the kill
    plan: list[Job]  # the dry run right after the kill
    started_next: list[Job]  # the jobs the next run (same command) started


@dataclass
class Interrupted:
    ws: Workspace
    points: dict[str, KillPoint]


def _key(job: Job) -> tuple[str, tuple[tuple[str, str], ...]]:
    return job.rule, tuple(sorted(job.wildcards.items()))


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory: pytest.TempPathFactory, fast_scontrol: Path | None) -> Interrupted:
    ws = prepare(tmp_path_factory.mktemp("killed") / "ws", fast_scontrol)
    command = [str(SNAKEMAKE), "--cores", "2", "--rerun-incomplete", *CONFIG]
    snaps, plans, started = {}, {}, []
    for name, (arm, fire, _, _) in KILL_POINTS.items():
        killed = run_and_kill(command, ws.root, ws.env(), arm=arm, fire=fire,
                              log=ws.root.parent / f"killed-{name}.log", timeout=1500)
        started.append(planned_jobs(killed.output))
        ws.snakemake("--unlock", *CONFIG)  # SIGKILL leaves Snakemake's lock (README)
        snaps[name] = killed.snapshot
        plans[name] = planned_jobs(ws.snakemake("-n", "--rerun-incomplete", *CONFIG).output)
    final = ws.snakemake("--rerun-incomplete", *CONFIG, cores=2, timeout=1500)
    started.append(planned_jobs(final.output))
    points = {name: KillPoint(snaps[name], plans[name], started[i + 1]) for i, name in enumerate(KILL_POINTS)}
    assert "Nothing to be done" in ws.snakemake("-n", *CONFIG).output
    return Interrupted(ws, points)


# Snakemake (9.15) checks its incomplete markers before it resolves checkpoints, so a job created
# from a checkpoint's output (ingest_subject, preprocess_subject) is rerun only when its output is
# missing: one killed after it wrote its output, before Snakemake recorded it as finished, is kept
# (and its marker stays). These jobs write their one declared output last and atomically, so such
# an output means the work was done; the test checks that this is the only exception.
CHECKPOINT_CREATED = re.compile(r"results/(ingest|preprocess)/[^/]+/[^/]+/(record|qc)\.json")
PREPROCESSED = ("t1.nii.gz", "t1c.nii.gz", "t2.nii.gz", "flair.nii.gz", "brain_mask.nii.gz", "qc.png")


@pytest.mark.faults
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_rerun_after_a_kill_runs_only_what_was_incomplete(interrupted_run: Interrupted, point: str) -> None:
    kill = interrupted_run.points[point]
    state, plan = kill.snapshot, kill.plan
    complete = state.complete
    jobs = [j for j in plan if j.outputs]
    planned_outputs = {o for j in jobs for o in j.outputs}
    # the kill cut jobs short (outputs marked incomplete and not yet written), and they are rerun
    cut_short = {p for p in state.incomplete if p not in state.files}
    assert cut_short, f"{point}: no job was running at the kill"
    assert cut_short <= planned_outputs, cut_short - planned_outputs
    assert any(p.startswith(KILL_POINTS[point][3]) for p in cut_short), cut_short
    # a job killed after it wrote its output is rerun too, or (see above) had finished its work
    for path in state.incomplete - planned_outputs:
        assert CHECKPOINT_CREATED.fullmatch(path) and path in state.files, f"{point}: {path} not rerun"
        folder = Path(path).parent
        if path.endswith("qc.json") and json.loads((interrupted_run.ws.root / path).read_text())["status"] == "ok":
            assert all(f"{folder}/{name}" in state.files for name in PREPROCESSED), folder
    # nothing whose outputs were all finished is planned again
    redone = [(j.rule, j.wildcards) for j in jobs if set(j.outputs) <= complete]
    assert not redone, f"{point}: finished jobs planned again: {redone}"
    assert not {j.rule for j in jobs} & KILL_POINTS[point][2], [j.rule for j in jobs]
    # the rerun with the same command started planned jobs only
    plan_keys = {_key(j) for j in plan}
    unplanned = [_key(j) for j in kill.started_next if _key(j) not in plan_keys]
    assert kill.started_next and not unplanned, unplanned
    # finished files outside the folders of rerun jobs were never touched again
    root = interrupted_run.ws.root
    owned = {str(Path(j.outputs[0]).parent) + "/" for j in jobs if j.rule in FOLDER_OWNERS}
    rerun_files = planned_outputs | {e for j in plan for e in j.extra}
    # a writer killed mid-write leaves its hidden temp file; the rerun's write of the same target
    # removes it (glioma.io.atomic.remove_stale_temporaries), so it is not a finished output
    temps = {p for p in complete if ATOMIC_TEMP.match(Path(p).name)}
    assert not [p for p in temps if (root / p).exists()], f"{point}: killed writers' temp files left"
    kept = [p for p in complete - temps if p not in rerun_files and not any(p.startswith(o) for o in owned)]
    assert len(kept) > 100
    changed = [p for p in kept if (root / p).stat().st_mtime_ns != state.files[p][0]]
    assert not changed, f"{point}: finished outputs rewritten: {changed[:10]}"


@pytest.mark.faults
def test_training_resumed_from_its_last_checkpoint(interrupted_run: Interrupted) -> None:
    kill = interrupted_run.points["train"]
    run, done = kill.snapshot.notes["fire"]["run"], kill.snapshot.notes["fire"]["epochs_done"]
    assert "train_select" in [j.rule for j in kill.plan]
    root = interrupted_run.ws.root
    log = (root / "logs" / "train" / "select" / f"{Path(run).name}.log").read_text()
    assert re.search(rf"(?<!not )resuming from \S*{re.escape(run)}/checkpoints/last\.ckpt", log), log[-3000:]
    epochs = [int(e) for e in re.findall(r"glioma\.model\.lightning: epoch (\d+):", log)]
    assert epochs == list(range(done, MAX_EPOCHS)), (done, epochs)  # only the epochs not yet done
    history = pd.read_csv(root / run / "metrics.csv")
    assert history["epoch"].tolist() == list(range(MAX_EPOCHS))  # the table continues across the kill
    # and so does Lightning's step-level log: every training step once, in order
    steps = pd.read_csv(root / run / "lightning_logs" / "version_0" / "metrics.csv").dropna(subset=["train_loss_step"])
    assert steps["step"].tolist() == list(range(len(steps))) and len(steps) >= MAX_EPOCHS, steps


# Files that record when, where and how fast a run happened, compared without those records.
# Lightning checkpoints hold the run folder's absolute path (their weights are in model.pt).
# Lightning's own step-level log (lightning_logs/version_0/metrics.csv) is compared as values: a
# resumed run writes the killed run's rows of the steps before its checkpoint back as read.
def _comparable(path: Path) -> bytes | dict | list | None:
    name = path.name
    if name == "run_info.json" or path.suffix == ".ckpt":
        return None
    if name == "metrics.csv" and "lightning_logs" in path.parts:
        import csv

        def value(text: str) -> float | str:
            try:
                return float(text)
            except ValueError:
                return text

        with path.open(newline="") as handle:
            return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    if name == "qc.json":
        return {k: v for k, v in json.loads(path.read_text()).items() if k not in {"timings", "seconds"}}
    if name == "qc.tsv":
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).drop(columns="seconds").to_dict("records")
    if name == "model.json":
        return {k: v for k, v in json.loads(path.read_text()).items() if k != "created"}
    if name == "MODEL_CARD.md":
        return [line for line in path.read_text().splitlines() if "created" not in line]
    return path.read_bytes()


ATOMIC_TEMP = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]+\.tmp")


@pytest.mark.faults
def test_same_seed_gives_identical_outputs(tiny_run: Workspace, interrupted_run: Interrupted) -> None:
    """Two independent runs with the same seed (one of them killed three times) write the same
    files, byte for byte: raw data, ingest, preprocessed volumes, splits, training tables, model
    weights, predictions, segmentations, every evaluation table and figure. Only time stamps,
    durations and host records are left out (see _comparable)."""
    def listing(root: Path) -> dict[str, Path]:
        out = {}
        for path in (root / "results").rglob("*"):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and not relative.startswith("results/benchmarks/") and relative != "results/report.html":
                out[relative] = path
        return out

    first, second = listing(tiny_run.root), listing(interrupted_run.ws.root)
    # a kill in the middle of an atomic write leaves its hidden temp file, never a partial target;
    # the rerun's write of the same target removes it (the writer's process is gone)
    leftovers = [p for p in second if ATOMIC_TEMP.match(Path(p).name)]
    assert not leftovers, leftovers
    assert sorted(first) == sorted(second)
    for must in ("results/infer/tiny_test/predictions.csv", "results/evaluate/tiny_test/table2.csv",
                 "results/evaluate/tiny_test/segmentation_metrics.tsv", "results/train/final/model.pt"):
        assert must in first
    differ = [p for p in first if _comparable(first[p]) != _comparable(second[p])]
    assert not differ, differ[:20]
