"""Discovery, subject sheet, exclusions and inclusion summary on tiny NIfTI cohorts (both layouts)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from glioma.cli import main
from glioma.ingest.pipeline import run_all, run_summary
from glioma.schema import INCLUSION_SUMMARY_COLUMNS, SUBJECT_SHEET_COLUMNS

AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


def nifti(path: Path, *, shape=(12, 12, 8), affine=AFFINE, value=None, dtype=np.int16, seed=0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).integers(0, 500, shape).astype(dtype) if value is None else value
    nib.save(nib.Nifti1Image(data, affine), path)


def seg_array(shape=(12, 12, 8)) -> np.ndarray:
    data = np.zeros(shape, np.uint8)
    data[3:6, 3:6, 2:4] = 2
    data[4, 4, 3] = 4
    return data


def make_nifti_folder_cohort(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    for subject in ("0001", "0002", "P3", "P4", "P5", "P6", "P..7", "p6"):
        folder = raw / subject
        for seq in ("t1", "t1c", "t2", "flair"):
            if subject == "P3" and seq == "t2":
                continue  # missing sequence
            nifti(folder / f"{seq}.nii.gz")
    nifti(raw / "0001" / "seg.nii.gz", value=seg_array())
    nifti(raw / "0002" / "seg.nii.gz", value=seg_array(), affine=np.diag([2.0, 1.0, 1.0, 1.0]))  # misplaced
    truncated = raw / "P4" / "flair.nii.gz"
    truncated.write_bytes(truncated.read_bytes()[:200])
    table = tmp_path / "labels.tsv"
    table.write_text(
        "Subject\tSex\tAge\tWHO\tIDH\t1p19q\tInstitute\tTimepoint\n"
        "0001\tM\t51\t2\t1\t1\tSiteA\tpreop\n"
        "0002\tF\t-1\t4\t0\t-1\tSiteB\tpreop\n"
        "P3\tF\t40\t3\t1\t0\tSiteA\tpreop\n"
        "P5\tF\t40\tIII\t1\t0\tSiteA\tpreop\n"  # unknown grade code
        "P6\tF\t40\t3\t1\t0\tSiteA\tpostop\n"
        "../P1\tF\t40\t3\t1\t0\tSiteA\tpreop\n"
    )
    cohort = {
        "name": "mini", "layout": "nifti_folder", "raw_root": str(raw), "institute": "default-site",
        "segmentation": {"source": "automatic"},
        "label_tables": [{
            "path": str(table), "id_column": "Subject", "missing": ["-1"],
            "columns": {
                "sex": {"column": "Sex", "map": {"M": "M", "F": "F"}},
                "age": {"column": "Age"},
                "grade": {"column": "WHO", "map": {2: 2, 3: 3, 4: 4}},
                "idh": {"column": "IDH", "map": {1: 1, 0: 0}},
                "codeletion": {"column": "1p19q", "map": {1: 1, 0: 0}},
                "institute": {"column": "Institute"},
                "preoperative": {"column": "Timepoint", "map": {"preop": 1, "postop": 0}},
            },
        }],
    }
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(cohort))
    return path


def test_nifti_folder_cohort_end_to_end(tmp_path):
    cohort_file = make_nifti_folder_cohort(tmp_path)
    out = tmp_path / "results" / "ingest" / "mini"
    run_all(cohort_file, out)
    sheet = pd.read_csv(out / "subjects.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert tuple(sheet.columns) == SUBJECT_SHEET_COLUMNS
    rows = sheet.set_index("subject")
    assert "P..7" not in rows.index and "0001" in rows.index  # numeric ID kept as text
    assert rows.loc["0001", "included"] == "1"
    assert rows.loc["0001", ["idh", "codeletion", "grade", "age", "sex"]].tolist() == ["1", "1", "2", "51", "M"]
    assert rows.loc["0001", "segmentation"] == "automatic" and rows.loc["0001", "seg_reference"] == "t1c"
    assert rows.loc["0001", "t1c"] == "0001/t1c.nii.gz" and (out / rows.loc["0001", "seg"]).is_file()
    assert rows.loc["0001", "institute"] == "SiteA"
    seg = nib.load(out / "0001" / "seg.nii.gz")
    assert seg.get_data_dtype() == np.uint8 and int(seg.get_fdata().sum()) == 18
    reasons = {s: rows.loc[s, "exclusion_reason"].split(":")[0] for s in rows.index if rows.loc[s, "included"] == "0"}
    assert reasons == {"0002": "segmentation_mismatch", "P3": "missing_sequence", "P4": "corrupt_file",
                       "P5": "label_error", "P6": "duplicate_id", "p6": "duplicate_id"}
    assert "'P4'" in rows.loc["P4", "exclusion_reason"] and "flair.nii.gz" in rows.loc["P4", "exclusion_reason"]
    assert "III" in rows.loc["P5", "exclusion_reason"]
    assert rows.loc["0002", "age"] == ""  # -1 = unknown stays unknown
    exclusions = pd.read_csv(out / "exclusions.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert set(exclusions["reason"]) == {"invalid_id", "segmentation_mismatch", "missing_sequence", "corrupt_file",
                                         "label_error", "duplicate_id"}
    assert exclusions.loc[exclusions["reason"] == "invalid_id", "raw_name"].tolist() == ["P..7"]
    assert json.loads((out / "P4" / "record.json").read_text())["status"] == "excluded"
    assert sorted(p.name for p in (out / "P4").iterdir()) == ["record.json"]

    summary_path = tmp_path / "summary.tsv"
    run_summary([("mini", out / "subjects.tsv", out / "exclusions.tsv")], summary_path)
    summary = pd.read_csv(summary_path, sep="\t", dtype={"n": int})
    assert tuple(summary.columns) == INCLUSION_SUMMARY_COLUMNS
    counts = {(r.stage, r.reason): r.n for r in summary.itertuples()}
    assert counts[("discover", "found")] == 8 and counts[("ingest", "included")] == 1
    assert counts[("discover", "duplicate_id")] == 2 and counts[("subject", "corrupt_file")] == 1
    assert sum(n for (stage, _), n in counts.items() if stage != "discover" or _ != "found") == 8


def test_postoperative_from_label_table(tmp_path):
    cohort_file = make_nifti_folder_cohort(tmp_path)
    for extra in ("p6",):  # remove the duplicate so that P6's own exclusion shows
        for path in (tmp_path / "raw" / extra).iterdir():
            path.unlink()
        (tmp_path / "raw" / extra).rmdir()
    out = tmp_path / "out"
    run_all(cohort_file, out)
    sheet = pd.read_csv(out / "subjects.tsv", sep="\t", dtype=str, keep_default_na=False).set_index("subject")
    assert sheet.loc["P6", "exclusion_reason"].startswith("postoperative:")


def test_brats_layout_with_hgg_lgg_folders(tmp_path):
    raw = tmp_path / "brats"
    for group, subject in (("HGG", "BraTS19_A_1"), ("LGG", "BraTS19_B_2")):
        folder = raw / group / subject
        for seq in ("t1", "t1ce", "t2", "flair"):
            nifti(folder / f"{subject}_{seq}.nii.gz", dtype=np.float32)
        nifti(folder / f"{subject}_seg.nii.gz", value=seg_array())
    (raw / "name_mapping.csv").write_text("Grade,BraTS_2019_subject_ID\nHGG,BraTS19_A_1\nLGG,BraTS19_B_2\n")
    (raw / "survival_data.csv").write_text("BraTS19ID,Age,Survival,ResectionStatus\nBraTS19_A_1,60.5,300,GTR\n")
    cohort = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/cohorts/brats2019.yaml").read_text())
    cohort["raw_root"] = str(raw)
    path = tmp_path / "brats.yaml"
    path.write_text(yaml.safe_dump(cohort))
    run_all(path, tmp_path / "out")
    sheet = pd.read_csv(tmp_path / "out" / "subjects.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert sheet["included"].tolist() == ["1", "1"]
    assert sheet["segmentation"].tolist() == ["manual", "manual"]
    first = sheet.set_index("subject").loc["BraTS19_A_1"]
    assert (first["age"], first["os_time_days"], first["grade"], first["os_event"]) == ("60.5", "300", "", "")
    seg = nib.load(tmp_path / "out" / "BraTS19_A_1" / "seg.nii.gz").get_fdata()
    assert int(seg.sum()) == 18  # labels 2 and 4 counted as whole tumour


def test_cli_subcommands(tmp_path):
    cohort_file = make_nifti_folder_cohort(tmp_path)
    out = tmp_path / "cli"
    assert main(["ingest", "discover", "--cohort-file", str(cohort_file), "--out", str(out / "discovered.tsv"),
                 "--labels", str(out / "labels.tsv")]) == 0
    assert main(["ingest", "subject", "--cohort-file", str(cohort_file), "--discovered", str(out / "discovered.tsv"),
                 "--subject", "0001", "--out-dir", str(out / "0001")]) == 0
    assert json.loads((out / "0001" / "record.json").read_text())["status"] == "included"
    with pytest.raises(ValueError, match="P..7"):
        main(["ingest", "subject", "--cohort-file", str(cohort_file), "--discovered", str(out / "discovered.tsv"),
              "--subject", "P..7", "--out-dir", str(out / "x")])
