"""NIfTI: validated loading, atomic anonymised saving, grid comparison, whole-tumour masks."""

from __future__ import annotations

import gzip
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from glioma.errors import InputError
from glioma.io.atomic import atomic_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grid:
    """Voxel grid of a 3D image: shape and voxel-to-world (RAS+) affine."""

    shape: tuple[int, int, int]
    affine: tuple[tuple[float, ...], ...]

    @classmethod
    def of(cls, image: nib.spatialimages.SpatialImage) -> Grid:
        shape = tuple(int(s) for s in image.shape[:3])
        return cls(shape=shape, affine=tuple(tuple(float(v) for v in row) for row in image.affine))

    def spacing(self) -> tuple[float, float, float]:
        matrix = np.asarray(self.affine)[:3, :3]
        return tuple(float(v) for v in np.linalg.norm(matrix, axis=0))  # type: ignore[return-value]

    def as_dict(self) -> dict[str, object]:
        return {"shape": list(self.shape), "affine": [list(r) for r in self.affine],
                "spacing_mm": [round(s, 4) for s in self.spacing()]}


def load_nifti(path: str | Path, *, subject: str | None = None) -> nib.Nifti1Image:
    """Load a NIfTI file and read its data, so that corrupt or truncated files fail here.

    Returns a 3D image (a 4D image with one volume is squeezed). Raises :class:`InputError`
    naming the patient and file otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file does not exist", subject=subject, path=path)
    try:
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
    except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile,
            nib.filebasedimages.ImageFileError) as err:
        raise InputError(f"corrupt or truncated NIfTI ({type(err).__name__}: {err})",
                         subject=subject, path=path) from err
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(f"expected a 3D image, found shape {data.shape}", subject=subject, path=path)
    if min(data.shape) < 1:
        raise InputError(f"empty image of shape {data.shape}", subject=subject, path=path)
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        raise InputError("image contains NaN or infinite values", subject=subject, path=path)
    affine = image.affine
    if affine is None or not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise InputError("image has no valid voxel-to-world affine", subject=subject, path=path)
    out = nib.Nifti1Image(data, affine)
    out.set_data_dtype(data.dtype)
    return out


def save_nifti(image: nib.spatialimages.SpatialImage, target: str | Path) -> Path:
    """Save ``image`` gzipped to ``target`` atomically, with free-text header fields blanked."""
    data = np.asanyarray(image.dataobj)
    out = nib.Nifti1Image(data, image.affine)
    out.set_data_dtype(data.dtype)
    out.set_qform(image.affine, code=1)
    out.set_sform(image.affine, code=1)
    header = out.header
    for key in ("descrip", "aux_file", "db_name", "intent_name"):
        header[key] = b""
    with atomic_path(target) as tmp:
        nib.save(out, str(tmp))
    return Path(target)


def grids_match(a: Grid, b: Grid, *, atol_mm: float = 0.05) -> bool:
    """True if the grids are the same, possibly up to a permutation/flip of the voxel axes.

    Exact comparison first; else both are reoriented to the closest canonical (RAS) voxel order
    and compared again, so a segmentation saved in another axis order still matches.
    """
    if a.shape == b.shape and np.allclose(a.affine, b.affine, atol=atol_mm):
        return True
    shape_a, affine_a = _canonical(a)
    shape_b, affine_b = _canonical(b)
    return shape_a == shape_b and bool(np.allclose(affine_a, affine_b, atol=atol_mm))


def _canonical(grid: Grid) -> tuple[tuple[int, ...], np.ndarray]:
    affine = np.asarray(grid.affine)
    ornt = nib.orientations.io_orientation(affine)
    new_affine = affine @ nib.orientations.inv_ornt_aff(ornt, grid.shape)
    shape = [0, 0, 0]
    for axis, (new_axis, _flip) in enumerate(ornt):
        shape[int(new_axis)] = int(grid.shape[axis])
    return tuple(shape), new_affine


def whole_tumour(segmentation: nib.spatialimages.SpatialImage, labels: list[int] | None = None) -> nib.Nifti1Image:
    """uint8 0/1 whole-tumour mask: voxels whose label is in ``labels`` (default: non-zero)."""
    data = np.asanyarray(segmentation.dataobj)
    if labels:
        mask = np.isin(np.rint(data).astype(np.int64), labels)
    else:
        mask = data != 0
    out = nib.Nifti1Image(mask.astype(np.uint8), segmentation.affine)
    out.set_data_dtype(np.uint8)
    return out
