"""glioma synth: determinism, layouts (DICOM / dcm2niix geometry / BraTS), tables, oracle, PHI."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest
import yaml
from scipy import ndimage as ndi

from glioma.errors import ConfigError
from glioma.synth.config import ScannerProfile, SynthConfig, from_cohort, synth_spec
from glioma.synth.dicom import dcm2niix_grid
from glioma.synth.generate import automatic_segmentation, generate_cohort
from glioma.synth.geometry import LPS_TO_RAS, Grid

REPO = Path(__file__).resolve().parents[2]
UNKNOWN = {"idh": 0.3, "codeletion": 0.3, "grade": 0.2, "age": 0.0, "sex": 0.0, "survival": 0.2}


def tiny_tcia(seed: int = 13) -> SynthConfig:
    insts = (
        ScannerProfile(name="TINY-A", code="TA", in_plane_mm=(2.5, 3.0), fov_mm=(190, 200), p_3d=0.0,
                       planes={"sagittal": 1.0}, series_descriptions={"t1": ("T1 PRE",), "t1c": ("T1 POST GAD",),
                                                                      "t2": ("T2 FSE",), "flair": ("T2 FLAIR",)},
                       p_missing_slice=0.0),
        ScannerProfile(name="TINY-B", code="TB", in_plane_mm=(2.5, 3.0), fov_mm=(190, 200), p_3d=0.0,
                       planes={"coronal": 1.0}, series_descriptions={"t1": ("T1 PRE",), "t1c": ("T1 POST GAD",),
                                                                     "t2": ("T2 FSE",), "flair": ("T2 FLAIR",)},
                       manufacturer="GE MEDICAL SYSTEMS", rescale_slope=2.0, rescale_intercept=-10.0),
    )
    return SynthConfig(cohort="tiny", layout="tcia_dicom", n_patients=4, seed=seed, institutes=insts,
                       resolution_mm=3.0, unknown_fraction=UNKNOWN, fraction_missing_sequence=0.25,
                       fraction_postop=0.25, fraction_no_segmentation=0.0, clinical_table="xlsx")


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tcia(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tcia")
    generate_cohort(tiny_tcia(), out, progress=False)
    return out


@pytest.fixture(scope="module")
def brats(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("brats")
    cfg = SynthConfig(cohort="tinyb", layout="brats_nifti", n_patients=2, seed=9,
                      institutes=(ScannerProfile(name="TINY-BR", code="BR"),), id_style="numeric",
                      resolution_mm=3.0, unknown_fraction=UNKNOWN, fraction_missing_sequence=0.0,
                      fraction_no_segmentation=0.0)
    generate_cohort(cfg, out, progress=False)
    return out


def test_determinism_same_seed_identical_other_seed_different(tcia, tmp_path):
    again = tmp_path / "again"
    generate_cohort(tiny_tcia(), again, progress=False)
    first, second = checksums(tcia), checksums(again)
    assert first == second and len(first) > 50
    other = tmp_path / "other"
    generate_cohort(replace(tiny_tcia(seed=14), n_patients=1), other, progress=False)
    third = checksums(other)
    assert third["oracle.tsv"] != first["oracle.tsv"]
    dcm = sorted(k for k in third if k.endswith(".dcm"))
    assert dcm and all(third[k] != first.get(k) for k in dcm)


def test_completion_marker_and_side_files(tcia):
    summary = json.loads((tcia / "cohort.json").read_text())
    assert summary["n_patients"] == 4 and summary["seed"] == 13
    assert summary["n_postop"] == 1 and summary["n_missing_sequence"] == 1
    assert set(summary["institutes"]) == {"TINY-A", "TINY-B"}
    assert "generator_version" in summary
    oracle = pd.read_csv(tcia / "oracle.tsv", sep="\t", dtype={"subject": str})
    for col in ("subject", "idh", "codeletion", "grade", "oracle_p_idh_mutated", "oracle_p_1p19q_codeleted",
                "oracle_p_grade_2", "oracle_p_grade_3", "oracle_p_grade_4", "latent_enhancing"):
        assert col in oracle.columns
    assert oracle["idh"].notna().all() and oracle["grade"].notna().all()
    aucs = json.loads((tcia / "oracle_auc.json").read_text())
    assert set(aucs) == {"IDH", "1p19q", "grade"}
    assert all(v is None or 0.0 <= v <= 1.0 for v in aucs.values())


def test_tcia_layout_and_headers(tcia):
    oracle = pd.read_csv(tcia / "oracle.tsv", sep="\t", dtype=str, keep_default_na=False)
    canaries = (tcia / "phi_canaries.txt").read_text().splitlines()
    assert canaries
    for _, row in oracle.iterrows():
        studies = list((tcia / row["subject"]).iterdir())
        assert len(studies) == 1
        study = studies[0].name
        assert study[2] == "-" and study[5] == "-" and study[10] == "-"
        assert ("POST-OP" in study) == (row["postop"] == "1")
        series = sorted(studies[0].iterdir())
        descs = {}
        for folder in series:
            number, _, rest = folder.name.partition(".000000-")
            assert number.isdigit() and rest.rsplit("-", 1)[1].isdigit()
            files = sorted(folder.glob("1-*.dcm"))
            ds = pydicom.dcmread(files[0])
            assert ds.Modality == "MR" and ds.PatientID == row["subject"]
            assert ds.pixel_array.shape == (ds.Rows, ds.Columns)
            assert str(ds.PatientName) in canaries and ds.PatientBirthDate in canaries
            descs[ds.SeriesDescription] = ds
        assert "3-PLANE LOC" in descs or "LOCALIZER" in descs or "3 PLANE LOC" in descs
        present = {"t1": "T1 PRE", "t1c": "T1 POST GAD", "t2": "T2 FSE", "flair": "T2 FLAIR"}
        for seq, desc in present.items():
            assert (desc in descs) == (row["missing_sequence"] != seq)
        if "T1 POST GAD" in descs:
            assert descs["T1 POST GAD"].ContrastBolusAgent
        if "T2 FLAIR" in descs:
            assert float(descs["T2 FLAIR"].InversionTime) > 1500
        assert not hasattr(descs.get("T1 PRE", pydicom.Dataset()), "ContrastBolusAgent")


def _grid_from_series(folder: Path) -> Grid:
    ds = sorted((pydicom.dcmread(f, stop_before_pixels=True) for f in folder.glob("*.dcm")),
                key=lambda d: d.InstanceNumber)
    iop = np.asarray(ds[0].ImageOrientationPatient, dtype=float)
    r, c = iop[:3], iop[3:]
    n = np.cross(r, c)
    dr, dc = (float(v) for v in ds[0].PixelSpacing)
    p0 = np.asarray(ds[0].ImagePositionPatient, dtype=float)
    step = (np.asarray(ds[-1].ImagePositionPatient, dtype=float) - p0) @ n / (len(ds) - 1)
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = r * dc, c * dr, n * step, p0
    return Grid((int(ds[0].Columns), int(ds[0].Rows), len(ds)), LPS_TO_RAS @ lps, 1.0)


@pytest.mark.skipif(shutil.which("dcm2niix", path=str(Path(sys.executable).parent)) is None
                    and shutil.which("dcm2niix") is None, reason="dcm2niix not installed")
def test_dcm2niix_geometry_matches_segmentation(tcia, tmp_path):
    exe = shutil.which("dcm2niix", path=str(Path(sys.executable).parent)) or shutil.which("dcm2niix")
    oracle = pd.read_csv(tcia / "oracle.tsv", sep="\t", dtype=str, keep_default_na=False)
    checked = 0
    for _, row in oracle.iterrows():
        seg_file = tcia / "segmentations" / f"{row['subject']}.nii.gz"
        assert seg_file.exists() == (row["segmentation"] != "none")
        desc = {"t1c": "T1 POST GAD", "flair": "T2 FLAIR", "t2": "T2 FSE", "t1": "T1 PRE"}[row["seg_reference"]]
        folder = next((tcia / row["subject"]).glob(f"*/*-{desc}-*"))
        out = tmp_path / row["subject"]
        out.mkdir()
        subprocess.run([exe, "-z", "y", "-b", "n", "-o", str(out), "-f", "img", str(folder)],
                       check=True, capture_output=True)
        converted = nib.load(out / "img.nii.gz")
        seg = nib.load(seg_file)
        assert converted.shape[:3] == seg.shape
        assert np.allclose(converted.affine, seg.affine, atol=1e-3)
        expected, _ = dcm2niix_grid(_grid_from_series(folder))
        assert np.allclose(converted.affine, expected, atol=1e-3)
        seg_data = np.asarray(seg.dataobj)
        assert set(np.unique(seg_data)) <= {0, 1} and seg_data.sum() > 0
        # the tumour is T2/FLAIR-hyperintense where the segmentation says so
        img = np.asarray(converted.dataobj, dtype=float)
        if row["seg_reference"] in ("flair", "t2") and row["postop"] == "0":
            assert img[seg_data > 0].mean() > img[img > 0].mean()
        checked += 1
    assert checked >= 3


def test_clinical_table_codes(tcia):
    table = pd.read_excel(tcia / "clinical" / "TableS1.PatientData.xlsx", sheet_name="S1A. TCGA discovery dataset",
                          header=1, dtype=str, keep_default_na=False)
    oracle = pd.read_csv(tcia / "oracle.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(table["Case"]) == list(oracle["subject"])
    assert set(table["Grade"]) <= {"G2", "G3", "G4", "NA"}
    assert set(table["IDH status"]) <= {"Mutant", "WT", "NA"}
    assert set(table["1p/19q codeletion"]) <= {"codel", "non-codel", "NA"}
    assert set(table["Gender"]) <= {"male", "female", "NA"}
    assert set(table["Imaging timepoint"]) <= {"preop", "postop"}
    merged = table.merge(oracle, left_on="Case", right_on="subject")
    known = merged[merged["IDH status"] != "NA"]
    assert ((known["IDH status"] == "Mutant") == (known["idh"] == "1")).all()


def test_brats_layout(brats):
    oracle = pd.read_csv(brats / "oracle.tsv", sep="\t", dtype={"subject": str})
    assert list(oracle["subject"]) == ["0001", "0002"]
    for subject in oracle["subject"]:
        for suffix in ("t1", "t1ce", "t2", "flair", "seg"):
            img = nib.load(brats / subject / f"{subject}_{suffix}.nii.gz")
            assert img.shape == (240, 240, 155)
            assert np.allclose(np.abs(np.diag(img.affine)[:3]), 1.0)
        seg = np.asarray(nib.load(brats / subject / f"{subject}_seg.nii.gz").dataobj)
        assert set(np.unique(seg)) <= {0, 1, 2, 4} and (seg > 0).sum() > 1000
        t1 = np.asarray(nib.load(brats / subject / f"{subject}_t1.nii.gz").dataobj)
        assert (t1 == 0).mean() > 0.5  # skull stripped
    labels = pd.read_csv(brats / "labels.csv", dtype=str)
    assert list(labels["Subject"]) == ["0001", "0002"]
    assert set(labels["IDH"]) <= {"0", "1", "-1"}
    assert (brats / "name_mapping.csv").exists() and (brats / "survival_data.csv").exists()
    assert not (brats / "phi_canaries.txt").read_text().strip()


@pytest.mark.parametrize("name", ["demo_tcia", "demo_brats", "demo_test"])
def test_demo_cohort_files_build_configs(name):
    cohort = yaml.safe_load((REPO / "config" / "cohorts" / f"{name}.yaml").read_text())
    cfg = from_cohort(cohort, 42)
    assert cfg.cohort == name and cfg.n_patients >= 30 and len(cfg.institutes) == 2
    if name == "demo_test":
        assert all(v == 0 for v in cfg.unknown_fraction.values())


def test_config_errors_name_the_key():
    cohort = {"name": "x", "layout": "tcia_dicom", "raw_root": "r", "synthetic": {"n_patient": 3}}
    with pytest.raises(ConfigError, match="n_patient"):
        from_cohort(cohort)
    cohort["synthetic"] = {"institutes": [{"name": "A", "slice_mm": 3}]}
    with pytest.raises(ConfigError, match="slice_mm"):
        from_cohort(cohort)
    cohort["synthetic"] = {"n_patients": 2}
    assert from_cohort(cohort, 1).seed != from_cohort(cohort, 2).seed


def test_synth_spec_holds_what_the_generator_reads_and_nothing_else():
    """The workflow reruns a cohort's generation when synth_spec changes (its params), so a label
    table edit must leave it alone and every input of from_cohort must change it."""
    cohort = yaml.safe_load((REPO / "config" / "cohorts" / "demo_tcia.yaml").read_text())
    spec = synth_spec(cohort)
    edited = {**cohort, "label_tables": [], "description": "edited", "inclusion": {}}
    assert synth_spec(edited) == spec and from_cohort(edited) == from_cohort(cohort)
    changes = {
        "name": {**cohort, "name": "other"},
        "layout": {**cohort, "layout": "brats_nifti"},
        "synthetic": {**cohort, "synthetic": {**cohort["synthetic"], "n_patients": 7}},
        "segmentation": {**cohort, "segmentation": {**cohort["segmentation"], "source": "manual"}},
    }
    assert cohort["segmentation"]["source"] == "automatic"
    for key, changed in changes.items():
        assert synth_spec(changed) != spec, key
        assert from_cohort(changed) != from_cohort(cohort), key


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


def test_automatic_segmentation_moves_the_boundary_in_mm_not_in_slices():
    spacing = (0.9, 0.9, 6.0)  # a thick-slice 2-D series, as the demo's TCIA-like institutes
    offsets = (np.indices((80, 80, 14)) - np.array([40.0, 40.0, 7.0])[:, None, None, None])
    truth = np.sqrt(((offsets * np.array(spacing)[:, None, None, None]) ** 2).sum(0)) < 16.0
    slices = np.flatnonzero(truth.any(axis=(0, 1)))
    grown = shrunk = 0
    for seed in range(8):
        auto = automatic_segmentation(truth, spacing, np.random.default_rng(seed))
        # an automatic segmentation agrees with the truth as one does with a manual one
        assert 0.8 < _dice(auto, truth) < 0.95
        # 2 mm is a third of a slice: the slices covered stay the same
        assert np.array_equal(np.flatnonzero(auto.any(axis=(0, 1))), slices)
        grown += bool(auto.sum() > truth.sum() and (auto | truth).sum() == auto.sum())
        shrunk += bool(auto.sum() < truth.sum() and (auto & truth).sum() == auto.sum())
    assert grown + shrunk == 8 and grown >= 2 and shrunk >= 2
    # the generator 1.0 perturbation (one voxel in 3-D) lost or added a slice at each end
    assert _dice(ndi.binary_erosion(truth), truth) < 0.8
    # an erosion that would leave nothing keeps the truth
    dot = np.zeros((9, 9, 3), dtype=bool)
    dot[4, 4, 1] = True
    rng = next(np.random.default_rng(s) for s in range(50) if np.random.default_rng(s).random() >= 0.5)
    assert np.array_equal(automatic_segmentation(dot, spacing, rng), dot)
