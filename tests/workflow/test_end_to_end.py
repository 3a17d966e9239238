"""The whole study on a tiny synthetic cohort, through the real Snakemake, ending in the report.

synth -> ingest -> preprocess (atlas skull stripping at 6 mm) -> cohort -> train (one grid point,
two epochs) -> infer -> evaluate -> ``--report``. One run is shared by the assertions; a rerun
must have nothing to do. Every output, log and the report are scanned for the synthetic PHI. A
second run, killed with SIGKILL during preprocessing and rerun with the same command, completes
and reproduces the first run's subject sheets, splits, predictions and Table 2 byte for byte.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from glioma.schema import PREDICTION_COLUMNS

from .conftest import SNAKEMAKE, Workspace

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

TINY = Path(__file__).parent / "tiny"
CONFIG = ["--configfile", "config/config.yaml", "tests/workflow/tiny/overrides.yaml"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, fast_scontrol: Path | None) -> Workspace:
    root = tmp_path_factory.mktemp("e2e") / "ws"
    root.mkdir()
    ws = Workspace(root, fast_scontrol)
    shutil.copytree(TINY, root / "tests" / "workflow" / "tiny")
    ws.snakemake(*CONFIG, cores=2, timeout=1500)
    ws.snakemake("--report", "results/report.html", *CONFIG, cores=1, timeout=300)
    return ws


def test_every_stage_wrote_its_outputs(tiny_run: Workspace) -> None:
    results = tiny_run.path("results")
    summary = pd.read_csv(results / "ingest" / "inclusion_summary.tsv", sep="\t")
    assert set(summary["cohort"]) == {"tiny_train", "tiny_test"}
    splits = pd.read_csv(results / "cohort" / "splits.tsv", sep="\t", dtype={"subject": str})
    assert set(splits["role"]) == {"train", "test"}
    assert (splits["fold"] == "val").any() and (splits["fold"] == "train").any()
    for name in ("model.pt", "model.json", "MODEL_CARD.md"):
        assert (results / "train" / "final" / name).is_file(), name


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


def test_no_identifying_header_value_in_any_output(tiny_run: Workspace) -> None:
    canaries: set[str] = set()
    for raw in tiny_run.path("results/raw").iterdir():
        canaries |= {line.strip() for line in (raw / "phi_canaries.txt").read_text().splitlines() if line.strip()}
    assert canaries
    import gzip

    hits = []
    roots = [tiny_run.path("results"), tiny_run.path("logs"), tiny_run.path(".snakemake/log")]
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or "raw" in path.relative_to(tiny_run.root).parts[:2]:
                continue
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            text = data.decode("latin-1").lower()
            hits += [(str(path), c) for c in canaries if c.lower() in text]
    assert not hits, hits[:5]


RESUMED_FILES = (
    "results/ingest/tiny_train/subjects.tsv",
    "results/cohort/splits.tsv",
    "results/infer/tiny_test/predictions.csv",
    "results/evaluate/tiny_test/table2.csv",
    "results/evaluate/tiny_test/model_vs_oracle.csv",
)


def test_killed_run_resumes_and_reproduces_the_outputs(tiny_run: Workspace, tmp_path: Path,
                                                        fast_scontrol: Path | None) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root, fast_scontrol)
    shutil.copytree(TINY, root / "tests" / "workflow" / "tiny")
    command = [str(SNAKEMAKE), "--cores", "2", "--rerun-incomplete", *CONFIG]
    proc = subprocess.Popen(command, cwd=root, env=ws.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while len(list((root / "results" / "preprocess").rglob("qc.json"))) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "preprocessing did not start in time"
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and the jobs it runs
        proc.wait()
    done_before = {p.relative_to(root) for p in (root / "results" / "preprocess").rglob("qc.json")}
    mtimes = {p: (root / p).stat().st_mtime_ns for p in done_before}
    ws.snakemake("--unlock", *CONFIG)
    run = ws.snakemake("--rerun-incomplete", *CONFIG, cores=2, timeout=1500)
    rules = [rule for rule, _ in run.jobs()]
    assert "synth_cohort" not in rules and "ingest_discover" not in rules, rules
    assert rules.count("preprocess_subject") <= 14 - len(done_before)
    for path, mtime in mtimes.items():  # finished patients were not preprocessed again
        assert (root / path).stat().st_mtime_ns == mtime, path
    for relative in RESUMED_FILES:
        assert (root / relative).read_bytes() == tiny_run.path(relative).read_bytes(), relative
