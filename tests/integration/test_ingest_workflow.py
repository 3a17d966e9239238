"""Adding a cohort is a YAML file plus a label table: the real workflow ingests it, no code change.

Runs the real Snakemake on a new cohort written into tmp_path (nifti_folder layout), with the
repository's config overlaid by one that lists only that cohort, and targets its subject sheet and
the inclusion summary.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def write_new_cohort(tmp_path: Path) -> Path:
    raw = tmp_path / "raw" / "hospital_x"
    rng = np.random.default_rng(1)
    for subject in ("101", "102", "HX-3"):
        for seq in ("t1", "t1c", "t2", "flair"):
            if subject == "HX-3" and seq == "flair":
                continue
            (raw / subject).mkdir(parents=True, exist_ok=True)
            data = rng.integers(0, 300, (10, 10, 6)).astype(np.int16)
            nib.save(nib.Nifti1Image(data, np.eye(4)), raw / subject / f"{seq}.nii.gz")
    table = tmp_path / "hospital_x_labels.csv"
    table.write_text("pid,idh_status,grade_who,sex\n101,mut,II,m\n102,wt,IV,f\nHX-3,NA,III,f\n")
    cohort = {
        "name": "hospital_x",
        "description": "a new source, added by config only",
        "layout": "nifti_folder",
        "raw_root": str(raw),
        "institute": "Hospital X",
        "label_tables": [{
            "path": str(table), "id_column": "pid", "missing": ["NA"],
            "columns": {
                "idh": {"column": "idh_status", "map": {"mut": 1, "wt": 0}},
                "grade": {"column": "grade_who", "map": {"II": 2, "III": 3, "IV": 4}},
                "sex": {"column": "sex", "map": {"m": "M", "f": "F"}},
            },
        }],
    }
    cohort_file = tmp_path / "hospital_x.yaml"
    cohort_file.write_text(yaml.safe_dump(cohort))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"cohorts": [{"file": str(cohort_file), "role": "train"}], "seed": 1}))
    return config


@pytest.mark.workflow
def test_new_cohort_by_config_through_snakemake(tmp_path):
    config = write_new_cohort(tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(REPO / "config" / "config.yaml"), str(config), "--cores", "1",
           "results/ingest/hospital_x/subjects.tsv", "results/ingest/inclusion_summary.tsv"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sheet = pd.read_csv(workdir / "results/ingest/hospital_x/subjects.tsv", sep="\t", dtype=str,
                        keep_default_na=False).set_index("subject")
    assert sorted(sheet.index) == ["101", "102", "HX-3"]
    assert sheet.loc["101", ["included", "idh", "grade", "sex", "institute"]].tolist() == ["1", "1", "2", "M", "Hospital X"]
    assert sheet.loc["HX-3", "included"] == "0" and sheet.loc["HX-3", "exclusion_reason"].startswith("missing_sequence")
    assert (workdir / "results/ingest/hospital_x" / sheet.loc["102", "flair"]).is_file()
    summary = pd.read_csv(workdir / "results/ingest/inclusion_summary.tsv", sep="\t")
    assert summary.query("reason == 'included'")["n"].tolist() == [2]
    assert (workdir / "logs/ingest/hospital_x/101.log").is_file()
