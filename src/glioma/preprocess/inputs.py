"""Reading and checking one raw scan: every problem becomes an InputError naming patient and file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np

from glioma.errors import InputError
from glioma.preprocess.config import QCThresholds

if TYPE_CHECKING:  # pragma: no cover
    import ants

logger = logging.getLogger(__name__)


def check_affine(affine: np.ndarray, zooms: np.ndarray, qc: QCThresholds) -> str | None:
    """Return why a voxel-to-world matrix is implausible, or None if it is fine."""
    if not np.all(np.isfinite(affine)):
        return "orientation matrix has NaN/inf entries"
    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if np.any(spacing <= 0) or abs(np.linalg.det(linear)) < 1e-9:
        return "orientation matrix is singular"
    cosines = linear / spacing
    gram = cosines.T @ cosines
    if np.max(np.abs(gram - np.eye(3))) > 1e-2:
        return "orientation matrix is not orthogonal (sheared axes)"
    if np.any(np.abs(affine[:3, 3]) > 1e4):
        return f"implausible origin {affine[:3, 3].round(1).tolist()} mm"
    if np.any(zooms < qc.min_spacing_mm) or np.any(zooms > qc.max_spacing_mm):
        return (
            f"voxel spacing {np.round(zooms, 3).tolist()} mm is outside "
            f"{qc.min_spacing_mm}-{qc.max_spacing_mm} mm"
        )
    if float(zooms.max() / zooms.min()) > qc.max_anisotropy:
        return (
            f"extreme anisotropy: voxel spacing {np.round(zooms, 3).tolist()} mm "
            f"(ratio {zooms.max() / zooms.min():.1f} > {qc.max_anisotropy})"
        )
    return None


def read_scan_array(
    path: str | Path, *, subject: str, qc: QCThresholds | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a NIfTI scan, check it, and return ``(float32 data, affine)`` of a 3D volume.

    4D input: the first volume is used (with a warning). Raises :class:`InputError` for an
    unreadable or truncated file, NaN/inf voxels, an empty or constant image, extreme
    anisotropy, an implausible orientation matrix or a too small field of view.
    """
    qc = qc or QCThresholds()
    path = Path(path)
    if not path.is_file():
        raise InputError("file does not exist", subject=subject, path=path)
    try:
        image = nib.load(str(path))
        if not isinstance(image, nib.Nifti1Image | nib.Nifti2Image):
            raise InputError(f"not a NIfTI image ({type(image).__name__})", subject=subject, path=path)
        data = np.asanyarray(image.dataobj)
    except InputError:
        raise
    except Exception as err:  # truncated gzip, bad header, short data block
        raise InputError(f"unreadable or truncated file ({type(err).__name__}: {err})", subject=subject, path=path) from err
    if data.ndim == 4:
        if data.shape[3] > 1:
            logger.warning(
                "patient %r, file %r: 4D volume with %d volumes, using the first",
                subject, str(path), data.shape[3],
            )
        data = data[..., 0]
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(f"expected a 3D volume, got shape {data.shape}", subject=subject, path=path)
    if min(data.shape) < 2:
        raise InputError(f"degenerate volume of shape {data.shape}", subject=subject, path=path)
    if np.iscomplexobj(data) or data.dtype.fields is not None:
        raise InputError(f"unsupported voxel type {data.dtype}", subject=subject, path=path)
    data = np.asarray(data, dtype=np.float32)
    n_bad = int(np.count_nonzero(~np.isfinite(data)))
    if n_bad:
        raise InputError(f"{n_bad} NaN/inf voxels", subject=subject, path=path)
    if not np.any(data):
        raise InputError("empty image (all voxels zero)", subject=subject, path=path)
    if float(data.max()) == float(data.min()):
        raise InputError(f"constant image (every voxel {float(data.max())})", subject=subject, path=path)
    affine = np.asarray(image.affine, dtype=float)
    zooms = np.linalg.norm(affine[:3, :3], axis=0)
    problem = check_affine(affine, zooms, qc)
    if problem:
        raise InputError(problem, subject=subject, path=path)
    extent = np.sort(np.asarray(data.shape) * zooms)
    if extent[1] < qc.min_extent_mm:
        raise InputError(
            f"field of view {np.round(extent, 1).tolist()} mm is too small for a brain scan",
            subject=subject, path=path,
        )
    return data, affine


def to_ants(data: np.ndarray, affine: np.ndarray) -> ants.ANTsImage:
    """An ANTs image (ITK LPS world) from a NIfTI-convention array and RAS affine."""
    import ants

    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    direction = linear / spacing
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    origin = ras_to_lps @ affine[:3, 3]
    direction = ras_to_lps @ direction
    return ants.from_numpy(
        np.ascontiguousarray(data, dtype=np.float32),
        origin=tuple(float(v) for v in origin),
        spacing=tuple(float(v) for v in spacing),
        direction=direction,
    )


def load_scan(path: str | Path, *, subject: str, qc: QCThresholds | None = None) -> ants.ANTsImage:
    """Read and check one scan (see :func:`read_scan_array`) as an ANTs image."""
    data, affine = read_scan_array(path, subject=subject, qc=qc)
    return to_ants(data, affine)
