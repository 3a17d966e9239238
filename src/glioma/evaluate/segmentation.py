"""Segmentation metrics per patient: Dice, Hausdorff distance (mm, physical space), volume similarity.

Two Hausdorff distances are reported, both symmetric and in millimetres using the voxel spacing:

* ``hausdorff_max_mm``: the classical (maximum) Hausdorff distance between the two voxel sets, as
  SimpleITK's ``HausdorffDistanceImageFilter`` computes it;
* ``hausdorff95_mm``: the 95th percentile Hausdorff distance between the two *surfaces*
  (max of the two directed 95th percentiles, as MONAI's ``compute_hausdorff_distance``).
  Fig. 4 shows this one (the robust variant common in BraTS-style evaluation).

Volumetric similarity is ``1 - |V_pred - V_ref| / (V_pred + V_ref)``.
Empty masks do not raise: both empty gives Dice = VS = 1 and distances 0; one empty gives
Dice = VS = 0 and distances NaN; the ``status`` column says which.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import ndimage

from glioma.errors import InputError

log = logging.getLogger(__name__)

SEGMENTATION_COLUMNS: tuple[str, ...] = (
    "cohort",
    "subject",
    "status",
    "dice",
    "hausdorff_max_mm",
    "hausdorff95_mm",
    "volumetric_similarity",
    "volume_reference_ml",
    "volume_prediction_ml",
)


@dataclass(frozen=True)
class SegmentationMetrics:
    status: str  # ok | empty_prediction | empty_reference | both_empty
    dice: float
    hausdorff_max_mm: float
    hausdorff95_mm: float
    volumetric_similarity: float
    volume_reference_ml: float
    volume_prediction_ml: float


def dice(reference: NDArray, prediction: NDArray) -> float:
    ref = reference.astype(bool)
    pred = prediction.astype(bool)
    total = ref.sum() + pred.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(ref, pred).sum() / total)


def volumetric_similarity(reference: NDArray, prediction: NDArray) -> float:
    a = float(reference.astype(bool).sum())
    b = float(prediction.astype(bool).sum())
    return 1.0 if a + b == 0 else 1.0 - abs(a - b) / (a + b)


def _surface(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Voxels of ``mask`` with a 6-neighbour outside it (the image border counts as outside)."""
    eroded = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1), border_value=0)
    return mask & ~eroded


def _distance_to(mask: NDArray[np.bool_], spacing: tuple[float, ...]) -> NDArray[np.float64]:
    """Euclidean distance (mm) of every voxel to the nearest voxel of ``mask``."""
    return ndimage.distance_transform_edt(~mask, sampling=spacing)


def hausdorff_max(reference: NDArray, prediction: NDArray, spacing: tuple[float, ...]) -> float:
    """Symmetric maximum Hausdorff distance between two non-empty voxel sets, in mm."""
    ref = reference.astype(bool)
    pred = prediction.astype(bool)
    if not ref.any() or not pred.any():
        return float("nan")
    return float(max(_distance_to(ref, spacing)[pred].max(), _distance_to(pred, spacing)[ref].max()))


def hausdorff_percentile(reference: NDArray, prediction: NDArray, spacing: tuple[float, ...], percentile: float = 95.0) -> float:
    """Max of the two directed surface-to-surface distance percentiles, in mm."""
    ref = reference.astype(bool)
    pred = prediction.astype(bool)
    if not ref.any() or not pred.any():
        return float("nan")
    s_ref = _surface(ref)
    s_pred = _surface(pred)
    d_pred_to_ref = _distance_to(s_ref, spacing)[s_pred]
    d_ref_to_pred = _distance_to(s_pred, spacing)[s_ref]
    return float(max(np.percentile(d_pred_to_ref, percentile), np.percentile(d_ref_to_pred, percentile)))


def _crop_to_union(a: NDArray[np.bool_], b: NDArray[np.bool_], margin: int = 2) -> tuple[NDArray, NDArray]:
    """Crop both masks to their union's bounding box plus ``margin`` (metrics are unchanged)."""
    coords = np.argwhere(a | b)
    lo = np.maximum(coords.min(axis=0) - margin, 0)
    hi = np.minimum(coords.max(axis=0) + margin + 1, a.shape)
    box = tuple(slice(int(i), int(j)) for i, j in zip(lo, hi, strict=True))
    return a[box], b[box]


def segmentation_metrics(reference: NDArray, prediction: NDArray, spacing: tuple[float, ...]) -> SegmentationMetrics:
    """All metrics for one patient; arrays in the same grid, ``spacing`` in mm per array axis."""
    if reference.shape != prediction.shape:
        raise InputError(f"reference grid {reference.shape} differs from prediction grid {prediction.shape}")
    ref = reference.astype(bool)
    pred = prediction.astype(bool)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    v_ref = float(ref.sum()) * voxel_ml
    v_pred = float(pred.sum()) * voxel_ml
    if not ref.any() and not pred.any():
        return SegmentationMetrics("both_empty", 1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    if not ref.any() or not pred.any():
        status = "empty_reference" if not ref.any() else "empty_prediction"
        return SegmentationMetrics(status, 0.0, float("nan"), float("nan"), 0.0, v_ref, v_pred)
    ref, pred = _crop_to_union(ref, pred)
    return SegmentationMetrics(
        "ok",
        dice(ref, pred),
        hausdorff_max(ref, pred, spacing),
        hausdorff_percentile(ref, pred, spacing, 95.0),
        volumetric_similarity(ref, pred),
        v_ref,
        v_pred,
    )


def load_mask(path: str | Path, *, subject: str | None = None) -> tuple[NDArray[np.bool_], tuple[float, ...], NDArray]:
    """A NIfTI mask as a boolean array (any non-zero label), its spacing (mm) and affine."""
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise InputError("segmentation file is missing", subject=subject, path=path)
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as err:  # nibabel raises several types for broken files
        raise InputError(f"cannot read segmentation: {err}", subject=subject, path=path) from err
    if data.ndim != 3:
        raise InputError(f"segmentation is {data.ndim}-D, expected 3-D", subject=subject, path=path)
    spacing = tuple(float(z) for z in img.header.get_zooms()[:3])
    return data != 0, spacing, img.affine


def patient_metrics(reference_path: str | Path, prediction_path: str | Path, *, subject: str | None = None) -> SegmentationMetrics:
    """Metrics of one patient from two NIfTI files on the same grid."""
    ref, spacing, affine_ref = load_mask(reference_path, subject=subject)
    pred, _spacing, affine_pred = load_mask(prediction_path, subject=subject)
    if ref.shape != pred.shape or not np.allclose(affine_ref, affine_pred, atol=1e-3):
        raise InputError("prediction and reference are not on the same grid", subject=subject, path=prediction_path)
    return segmentation_metrics(ref, pred, spacing)


def cohort_segmentation_metrics(cohort: str, pairs: dict[str, tuple[Path, Path]]) -> pd.DataFrame:
    """Per-patient metrics for ``subject -> (reference, prediction)``; bad patients get a status.

    A patient whose files are missing or unreadable is recorded with ``status`` =
    ``excluded: <reason>`` and empty metrics; the rest of the cohort goes on.
    """
    from tqdm import tqdm

    rows = []
    for subject, (ref_path, pred_path) in tqdm(sorted(pairs.items()), desc=f"segmentation {cohort}", unit="patient"):
        try:
            m = asdict(patient_metrics(ref_path, pred_path, subject=subject))
        except InputError as err:
            log.warning("excluded from segmentation metrics: %s", err)
            m = {"status": f"excluded: {err.problem}"}
        rows.append({"cohort": cohort, "subject": subject, **m})
    return pd.DataFrame(rows, columns=list(SEGMENTATION_COLUMNS))
