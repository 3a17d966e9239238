"""Workflow test: `snakemake paper` then `--report` on the published predictions, in a tmp folder.

The paper target depends on no other stage, so a Snakefile holding only report.smk (copied with
its scripts and captions) runs it; the config is the repository's ``evaluate`` section with the
data paths made absolute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

PAPER_CAPTIONS = ("table2", "roc", "confusion", "confusion_who", "subtype_performance", "appendix_e",
                  "survival_km", "survival_logrank")

pytestmark = [pytest.mark.workflow, pytest.mark.realdata, pytest.mark.slow]


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "run"
    (work / "workflow" / "rules").mkdir(parents=True)
    (work / "config").mkdir()
    shutil.copy(REPO / "workflow" / "rules" / "report.smk", work / "workflow" / "rules" / "report.smk")
    shutil.copytree(REPO / "workflow" / "scripts", work / "workflow" / "scripts")
    shutil.copytree(REPO / "workflow" / "report", work / "workflow" / "report")
    shutil.copytree(REPO / "workflow" / "envs", work / "workflow" / "envs")
    (work / "workflow" / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\nreport: "report/workflow.rst"\n\n\ninclude: "rules/report.smk"\n'
    )
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    evaluate = config["evaluate"]
    evaluate["paper_predictions"] = str((REPO / evaluate["paper_predictions"]).resolve())
    evaluate["survival"]["tcga_cdr"] = str((REPO / evaluate["survival"]["tcga_cdr"]).resolve())
    (work / "config" / "config.yaml").write_text(yaml.safe_dump({"evaluate": evaluate}))
    return work


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    cmd = [str(SNAKEMAKE), "--cores", "1", "--directory", str(work), "--snakefile", str(work / "workflow" / "Snakefile"), *args]
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)


def test_paper_target_and_report(tmp_path: Path) -> None:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data missing: {SHARED_DATA}")
    work = _workdir(tmp_path)
    run = _snakemake(work, "paper")
    assert run.returncode == 0, run.stderr[-4000:]
    paper = work / "results" / "paper"
    for name in ("table2.csv", "roc.png", "roc.pdf", "confusion_who2016.png", "confusion_who2021.csv",
                 "subtype_performance.csv", "appendix_e_predictions.csv", "survival_km.png", "survival_logrank.csv"):
        assert (paper / name).stat().st_size > 0, name
    lint = _snakemake(work, "--lint")
    text = lint.stdout + lint.stderr
    items = [line.strip() for line in text.splitlines() if line.strip().startswith("* ")]
    assert not items, text[-3000:]
    report = work / "results" / "paper_report.html"
    rep = _snakemake(work, "paper", "--report", str(report))
    assert rep.returncode == 0, rep.stderr[-4000:]
    html = report.read_text(errors="replace")
    for name in PAPER_CAPTIONS:
        title = (REPO / "workflow" / "report" / f"{name}.rst").read_text().split("**")[1]
        assert title in html, f"caption {name}.rst ({title!r}) missing from the report"
