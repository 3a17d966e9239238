"""Ingest small synthetic cohorts of each raw layout written by ``glioma synth`` and check the
result against the generator's oracle (what it hid: missing sequences, post-operative imaging,
the series the segmentation was drawn on) and its PHI canaries (nothing identifying leaks)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
import yaml

from glioma.ingest.pipeline import run_all
from glioma.synth.cli import run_synth

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _cohort(tmp: Path, name: str, n: int, resolution: float | None) -> tuple[Path, Path]:
    data = yaml.safe_load((REPO / "config" / "cohorts" / f"{name}.yaml").read_text())
    raw = tmp / "raw" / name
    data["raw_root"] = str(raw)
    cohort_file = tmp / f"{name}.yaml"
    cohort_file.write_text(yaml.safe_dump(data))
    run_synth(cohort_file, raw, seed=7, n_patients=n, resolution=resolution, progress=False)
    out = tmp / "results" / "ingest" / name
    run_all(cohort_file, out)
    return raw, out


@pytest.fixture(scope="module", params=[("demo_tcia", 6, 2.0), ("demo_brats", 3, None)], ids=["tcia_dicom", "brats_nifti"])
def ingested(request, tmp_path_factory):
    name, n, resolution = request.param
    raw, out = _cohort(tmp_path_factory.mktemp(name), name, n, resolution)
    return name, raw, out


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def test_every_patient_accounted_for_and_oracle_agrees(ingested):
    name, raw, out = ingested
    oracle = _read(raw / "oracle.tsv").set_index("subject")
    sheet = _read(out / "subjects.tsv").set_index("subject")
    assert sorted(sheet.index) == sorted(oracle.index)
    assert (sheet["included"] == "1").any()
    for subject, truth in oracle.iterrows():
        row = sheet.loc[subject]
        reason = row["exclusion_reason"].split(":")[0]
        if truth.get("postop", "0") in ("1", "True", "true"):  # checked first, from the label table
            assert reason == "postoperative", (subject, row["exclusion_reason"])
        elif truth["missing_sequence"]:
            assert reason == "missing_sequence", (subject, row["exclusion_reason"])
        else:
            assert row["included"] == "1", (subject, row["exclusion_reason"])
            assert all((out / row[s]).is_file() for s in ("t1", "t1c", "t2", "flair"))
            if truth["segmentation"] in ("manual", "automatic"):
                assert row["seg_reference"] == truth["seg_reference"] or name == "demo_brats", subject
                assert (out / row["seg"]).is_file()
            else:
                assert row["segmentation"] == "none" and row["seg"] == ""
    # unified labels equal the generator's truth wherever the clinical table shows them
    for column in ("idh", "codeletion", "grade"):
        known = sheet[sheet[column] != ""]
        assert (known[column] == oracle.loc[known.index, column]).all(), column


def test_no_identifying_header_value_in_any_output(ingested):
    _, raw, out = ingested
    canaries = [c for c in (raw / "phi_canaries.txt").read_text().splitlines() if c.strip()]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        if path.suffix == ".gz":
            content = gzip.decompress(content)
        for canary in canaries:
            assert canary.encode() not in content, (path, canary)
