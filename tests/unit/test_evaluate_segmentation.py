"""Segmentation metrics on synthetic spheres (the real-mask test is in tests/integration)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from glioma.evaluate.segmentation import (
    cohort_segmentation_metrics,
    dice,
    hausdorff_max,
    segmentation_metrics,
    volumetric_similarity,
)


def _sphere(shape, center, radius, spacing=(1.0, 1.0, 1.0)):
    grid = np.indices(shape).astype(float)
    d = sum(((g - c) * s) ** 2 for g, c, s in zip(grid, center, spacing, strict=True))
    return d <= radius**2


def test_known_values() -> None:
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[2:6, 2:6, 2:6] = True  # 64 voxels
    b[2:6, 2:6, 4:8] = True  # 64 voxels, 32 shared
    assert dice(a, b) == pytest.approx(0.5)
    assert volumetric_similarity(a, b) == 1.0
    assert hausdorff_max(a, b, (1, 1, 1)) == pytest.approx(2.0)
    assert hausdorff_max(a, b, (1, 1, 3)) == pytest.approx(6.0)  # physical space


def test_concentric_spheres_in_mm() -> None:
    spacing = (1.0, 1.0, 2.0)
    ref = _sphere((40, 40, 20), (20, 20, 10), 12, spacing)
    pred = _sphere((40, 40, 20), (20, 20, 10), 8, spacing)
    m = segmentation_metrics(ref, pred, spacing)
    assert m.status == "ok"
    assert 3.0 <= m.hausdorff95_mm <= m.hausdorff_max_mm <= 5.0
    assert m.volume_reference_ml == pytest.approx(ref.sum() * 2 / 1000)


def test_empty_and_missing_are_reported(tmp_path: Path) -> None:
    z = np.zeros((5, 5, 5), bool)
    one = z.copy()
    one[2, 2, 2] = True
    assert segmentation_metrics(z, z, (1, 1, 1)).status == "both_empty"
    assert segmentation_metrics(one, z, (1, 1, 1)).status == "empty_prediction"
    ref_dir, pred_dir = tmp_path / "ref" / "001", tmp_path / "pred" / "001"
    ref_dir.mkdir(parents=True)
    pred_dir.mkdir(parents=True)
    nib.save(nib.Nifti1Image(one.astype(np.uint8), np.eye(4)), ref_dir / "seg.nii.gz")
    nib.save(nib.Nifti1Image(one.astype(np.uint8), np.eye(4)), pred_dir / "seg.nii.gz")
    pairs = {
        "001": (ref_dir / "seg.nii.gz", pred_dir / "seg.nii.gz"),
        "002": (tmp_path / "ref" / "002" / "seg.nii.gz", tmp_path / "pred" / "002" / "seg.nii.gz"),
    }
    table = cohort_segmentation_metrics("demo", pairs)
    assert table["subject"].tolist() == ["001", "002"]
    assert table.loc[0, "status"] == "ok" and table.loc[0, "dice"] == 1.0
    assert table.loc[1, "status"].startswith("excluded: segmentation file is missing")
