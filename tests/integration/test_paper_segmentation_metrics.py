"""Segmentation metrics on the real BraTS-fusion mask of TCGA-FG-6692 and perturbed copies,
against SimpleITK's filters (Dice, volume similarity, maximum Hausdorff) and MONAI (95th percentile
Hausdorff), through NIfTI files so that the physical spacing of the header is used."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from glioma.evaluate.segmentation import patient_metrics

REPO = Path(__file__).resolve().parents[2]
MASK = REPO.parent / "shared" / "data" / "tcga-lgg-sample" / "TCGA-FG-6692" / "reference" / "tumor_fusion_mav.nii.gz"

pytestmark = [pytest.mark.realdata, pytest.mark.filterwarnings("ignore::FutureWarning")]


def _perturbations(ref: np.ndarray) -> dict[str, np.ndarray]:
    ball = ndimage.generate_binary_structure(3, 1)
    cut = ref.copy()
    zs = np.flatnonzero(ref.any(axis=(0, 1)))
    cut[:, :, zs[len(zs) // 2]:] = False  # upper half removed
    rng = np.random.default_rng(0)
    noisy = ref ^ (ndimage.binary_dilation(ref, ball, 2) & (rng.random(ref.shape) < 0.3))
    far = ref.copy()
    far[10:14, 10:14, 10:14] = True  # an isolated false-positive blob far from the tumour
    return {
        "identity": ref.copy(),
        "dilated": ndimage.binary_dilation(ref, ball, 2),
        "eroded": ndimage.binary_erosion(ref, ball, 2),
        "shifted": np.roll(ref, (3, -2, 1), axis=(0, 1, 2)),
        "half": cut,
        "noisy": noisy,
        "far_blob": far,
    }


def _sitk_reference(ref_path: Path, pred_path: Path) -> dict[str, float]:
    r = sitk.ReadImage(str(ref_path), sitk.sitkUInt8)
    p = sitk.ReadImage(str(pred_path), sitk.sitkUInt8)
    overlap = sitk.LabelOverlapMeasuresImageFilter()
    overlap.Execute(r, p)
    hd = sitk.HausdorffDistanceImageFilter()
    hd.Execute(r, p)
    return {
        "dice": overlap.GetDiceCoefficient(),
        "vs": 1.0 - abs(overlap.GetVolumeSimilarity()) / 2.0,
        "hd": hd.GetHausdorffDistance(),
    }


@pytest.mark.parametrize("spacing", [None, (1.0, 1.0, 2.5)], ids=["atlas-1mm", "anisotropic"])
def test_metrics_match_simpleitk_and_monai(tmp_path: Path, spacing) -> None:
    from monai.metrics import compute_hausdorff_distance

    img = nib.load(str(MASK))
    ref = np.asanyarray(img.dataobj) != 0
    # crop around the tumour to keep the test fast (metrics are translation invariant)
    box = tuple(slice(max(int(a.min()) - 20, 0), int(a.max()) + 21) for a in np.nonzero(ref))
    ref = ref[box]
    affine = img.affine.copy()
    if spacing is not None:
        affine = np.diag([*spacing, 1.0])
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    ref_path = tmp_path / "ref.nii.gz"
    nib.save(nib.Nifti1Image(ref.astype(np.uint8), affine), ref_path)
    assert ref.sum() > 1000
    for name, pred in _perturbations(ref).items():
        pred_path = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(pred.astype(np.uint8), affine), pred_path)
        ours = patient_metrics(ref_path, pred_path, subject="TCGA-FG-6692")
        want = _sitk_reference(ref_path, pred_path)
        assert ours.status == "ok"
        assert ours.dice == pytest.approx(want["dice"], abs=1e-9), name
        assert ours.volumetric_similarity == pytest.approx(want["vs"], abs=1e-9), name
        assert ours.hausdorff_max_mm == pytest.approx(want["hd"], rel=1e-6, abs=1e-6), name
        monai_hd95 = compute_hausdorff_distance(
            pred[None, None].astype(np.float32), ref[None, None].astype(np.float32),
            percentile=95, spacing=[tuple(float(z) for z in zooms)],
        ).item()
        assert ours.hausdorff95_mm == pytest.approx(monai_hd95, rel=1e-5, abs=1e-5), name
        assert ours.volume_reference_ml == pytest.approx(ref.sum() * np.prod(zooms) / 1000)
    identity = patient_metrics(ref_path, tmp_path / "identity.nii.gz")
    assert (identity.dice, identity.hausdorff_max_mm, identity.hausdorff95_mm) == (1.0, 0.0, 0.0)


def test_empty_masks_are_reported_not_crashed(tmp_path: Path) -> None:
    img = nib.load(str(MASK))
    ref = (np.asanyarray(img.dataobj) != 0).astype(np.uint8)
    empty = np.zeros_like(ref)
    for name, data in (("ref", ref), ("empty", empty)):
        nib.save(nib.Nifti1Image(data, img.affine), tmp_path / f"{name}.nii.gz")
    m = patient_metrics(tmp_path / "ref.nii.gz", tmp_path / "empty.nii.gz")
    assert m.status == "empty_prediction" and m.dice == 0.0 and np.isnan(m.hausdorff_max_mm)
    m = patient_metrics(tmp_path / "empty.nii.gz", tmp_path / "ref.nii.gz")
    assert m.status == "empty_reference" and m.volume_reference_ml == 0.0
    m = patient_metrics(tmp_path / "empty.nii.gz", tmp_path / "empty.nii.gz")
    assert m.status == "both_empty" and m.dice == 1.0
