"""One patient's ingest on pydicom-written TCIA-layout series: selection, exclusions, de-identification."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from pydicom.uid import generate_uid
from test_io_dicom import CANARIES, SAGITTAL, write_series

from glioma.ingest.cohort import load_cohort
from glioma.ingest.subject import ingest_subject
from glioma.io.dicom import convert_series, read_series


def make_patient(root: Path, subject: str, *, postop_only=False, drop=(), second_study_postop=False) -> Path:
    """A TCIA-layout patient: T1, T1c (two: low-res and high-res), T2, FLAIR and distractors."""
    study = generate_uid()
    desc = "MRI BRAIN POST-OP" if postop_only else "MRI BRAIN W WO CONTRAST"
    base = root / subject / f"01-01-2000-{desc}-12345"
    specs = [
        ("AX T1 PRE", dict(tr=500, te=10, shape=(24, 20, 5)), 2),
        ("AX T1 C+", dict(tr=500, te=10, contrast="Magnevist"), 3),
        ("AX T1 C+ THIN", dict(tr=500, te=10, contrast="Magnevist", spacing=(0.5, 0.5, 2.0), shape=(32, 32, 10)), 4),
        ("AX T2", dict(tr=4000, te=100, shape=(24, 20, 7)), 5),
        ("AX FLAIR", dict(tr=9000, te=120, ti=2500, shape=(24, 20, 8)), 6),
        ("3-PLANE LOC", dict(tr=10, te=2), 1),
        ("AX DWI", dict(tr=5000, te=90), 7),
    ]
    for description, extra, number in specs:
        if any(description.startswith(d) for d in drop):
            continue
        extra.setdefault("shape", (24, 20, 6))
        extra.setdefault("spacing", (1.0, 1.0, 5.0))
        write_series(base / f"{number}.000000-{description}-{number:05d}", description=description,
                     series_number=number, study_uid=study, study_description=desc, patient_id=subject,
                     seed=number, **extra)
    if second_study_postop:
        write_series(root / subject / "06-01-2000-MRI BRAIN POST-OP-22222" / "3.000000-AX T2-1",
                     description="AX T2", study_description="MRI BRAIN POST-OP", tr=4000, te=100,
                     study_date="20000601")
    return root / subject


def cohort_file(tmp_path: Path, raw: Path, **extra) -> Path:
    data = {"name": "unit", "layout": "tcia_dicom", "raw_root": str(raw),
            "segmentation": {"source": "manual", "path": "{raw_root}/segmentations/{subject}.nii.gz"}, **extra}
    path = tmp_path / "unit.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def seg_on(series_folder: Path, target: Path, tmp_path: Path) -> None:
    """A segmentation on the grid dcm2niix gives that series (as synth writes it)."""
    info = read_series(series_folder)[0]
    ref = nib.load(convert_series(info.files, tmp_path / "ref" / "ref.nii.gz"))
    data = np.zeros(ref.shape, dtype=np.uint8)
    data[2:6, 2:6, 1:3] = 2
    target.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, ref.affine), target)


def test_selection_conversion_and_deidentification(tmp_path):
    raw = tmp_path / "raw"
    make_patient(raw, "0042", second_study_postop=True)  # numeric-only ID stays a string
    cohort = load_cohort(cohort_file(tmp_path, raw))
    record = ingest_subject(cohort, "0042", "0042", tmp_path / "out" / "0042")
    assert record["status"] == "included", record
    assert record["subject"] == "0042"
    assert record["sequences"]["t1c"]["series_description"] == "AX T1 C+ THIN"  # finest axial resolution
    assert record["sequences"]["t1"]["series_description"] == "AX T1 PRE"
    assert record["sequences"]["flair"]["series_description"] == "AX FLAIR"
    assert record["segmentation"] == "none"
    out = tmp_path / "out" / "0042"
    assert sorted(p.name for p in out.iterdir()) == ["flair.nii.gz", "record.json", "t1.nii.gz", "t1c.nii.gz", "t2.nii.gz"]
    assert nib.load(out / "t1c.nii.gz").shape == (32, 32, 10)
    for path in out.iterdir():
        content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        for canary in CANARIES.values():
            assert canary.encode() not in content, (path, canary)
        assert b"20000101" not in content  # no study date either


def test_segmentation_picks_the_series_it_was_drawn_on(tmp_path):
    raw = tmp_path / "raw"
    patient = make_patient(raw, "P1")
    low = next(patient.glob("*/3.000000-AX T1 C+-*"))
    seg_on(low, raw / "segmentations" / "P1.nii.gz", tmp_path)
    cohort = load_cohort(cohort_file(tmp_path, raw))
    record = ingest_subject(cohort, "P1", "P1", tmp_path / "out" / "P1")
    assert record["status"] == "included", record
    assert record["sequences"]["t1c"]["series_description"] == "AX T1 C+"  # not the thin one
    assert record["sequences"]["t1c"]["selected_by"] == "segmentation grid"
    assert record["seg_reference"] == "t1c" and record["segmentation"] == "manual"
    seg = nib.load(tmp_path / "out" / "P1" / "seg.nii.gz")
    t1c = nib.load(tmp_path / "out" / "P1" / "t1c.nii.gz")
    assert seg.shape == t1c.shape and np.allclose(seg.affine, t1c.affine)
    assert set(np.unique(seg.get_fdata())) == {0.0, 1.0} and record["seg_voxels"] == 32


def test_misplaced_segmentation_excludes(tmp_path):
    raw = tmp_path / "raw"
    make_patient(raw, "P1")
    (raw / "segmentations").mkdir()
    nib.save(nib.Nifti1Image(np.ones((5, 5, 5), np.uint8), np.eye(4)), raw / "segmentations" / "P1.nii.gz")
    record = ingest_subject(load_cohort(cohort_file(tmp_path, raw)), "P1", "P1", tmp_path / "out" / "P1")
    assert record["status"] == "excluded" and record["reason"] == "segmentation_mismatch"
    assert "P1.nii.gz" in record["detail"]
    assert [p.name for p in (tmp_path / "out" / "P1").iterdir()] == ["record.json"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"drop": ("AX T2",)}, "missing_sequence"), ({"postop_only": True}, "postoperative")],
)
def test_exclusions(tmp_path, kwargs, reason):
    raw = tmp_path / "raw"
    make_patient(raw, "P1", **kwargs)
    record = ingest_subject(load_cohort(cohort_file(tmp_path, raw)), "P1", "P1", tmp_path / "out" / "P1")
    assert record["status"] == "excluded" and record["reason"] == reason, record
    assert "'P1'" in record["detail"]
    saved = json.loads((tmp_path / "out" / "P1" / "record.json").read_text())
    assert saved["reason"] == reason


def test_corrupt_and_truncated_dicom_exclude_with_file_named(tmp_path):
    raw = tmp_path / "raw"
    patient = make_patient(raw, "P1")
    flair = next(patient.glob("*/6.000000-AX FLAIR-*"))
    victim = flair / "1-03.dcm"
    victim.write_bytes(victim.read_bytes()[:-300])  # truncated pixel data
    record = ingest_subject(load_cohort(cohort_file(tmp_path, raw)), "P1", "P1", tmp_path / "out" / "P1")
    assert record["status"] == "excluded" and record["reason"] == "corrupt_file"
    assert "1-03.dcm" in record["detail"] and "'P1'" in record["detail"]
    victim.write_bytes(b"garbage")
    record = ingest_subject(load_cohort(cohort_file(tmp_path, raw)), "P1", "P1", tmp_path / "out" / "P1")
    assert record["reason"] == "corrupt_file" and "1-03.dcm" in record["detail"]


def test_sagittal_only_t1_is_used_when_nothing_else(tmp_path):
    raw = tmp_path / "raw"
    patient = make_patient(raw, "P1", drop=("AX T1 PRE",))
    study = next(patient.iterdir())
    write_series(study / "9.000000-SAG T1-9", description="SAG T1", orientation=SAGITTAL, series_number=9,
                 study_uid=read_series(next(study.glob("5.*")))[0].study_uid, tr=500, te=10)
    record = ingest_subject(load_cohort(cohort_file(tmp_path, raw)), "P1", "P1", tmp_path / "out" / "P1")
    assert record["status"] == "included"
    assert record["sequences"]["t1"]["plane"] == "sagittal"
