"""Acquisition grids, the per-patient deformation and resampling of template-space volumes.

Coordinates: patient world is scanner RAS (mm). A series grid maps DICOM indices
(i = column, j = row, k = slice) to RAS. The patient's head pose (affine) and a smooth elastic
field plus the tumour's mass effect map patient world to template voxels. The full mapping is
evaluated exactly on a coarse sub-grid of every series and upsampled separably, which keeps the
cost at about one interpolation per output voxel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

#: DICOM (row direction, column direction) in LPS for each acquisition plane
PLANES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
}
COARSE_STEP_MM = 8.0


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``shape`` (columns, rows, slices) and its index -> RAS affine."""

    shape: tuple[int, int, int]
    affine: np.ndarray
    thickness: float

    @property
    def spacing(self) -> np.ndarray:
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def affine_lps(self) -> np.ndarray:
        return LPS_TO_RAS @ self.affine


def make_grid(
    plane: str,
    pixel_mm: tuple[float, float],
    matrix: tuple[int, int],
    n_slices: int,
    slice_spacing: float,
    thickness: float,
    center_ras: np.ndarray,
    tilt: np.ndarray | None = None,
) -> Grid:
    """Grid of a series. ``pixel_mm`` = (row spacing, column spacing) as in DICOM PixelSpacing;
    ``matrix`` = (rows, columns); ``tilt`` an optional 3x3 rotation (oblique acquisition)."""
    r, c = (np.asarray(v) for v in PLANES[plane])
    if tilt is not None:
        r, c = tilt @ r, tilt @ c
    n = np.cross(r, c)
    rows, cols = matrix
    dr, dc = pixel_mm
    center_lps = LPS_TO_RAS[:3, :3] @ np.asarray(center_ras, dtype=float)
    origin = center_lps - r * dc * (cols - 1) / 2 - c * dr * (rows - 1) / 2 - n * slice_spacing * (n_slices - 1) / 2
    lps = np.eye(4)
    lps[:3, 0] = r * dc
    lps[:3, 1] = c * dr
    lps[:3, 2] = n * slice_spacing
    lps[:3, 3] = origin
    return Grid(shape=(cols, rows, n_slices), affine=LPS_TO_RAS @ lps, thickness=float(thickness))


def random_tilt(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(0, max_deg))
    return Rotation.from_rotvec(axis * angle).as_matrix()


@dataclass
class PatientWarp:
    """Patient world (RAS mm) -> template voxel indices."""

    world_to_template: np.ndarray  # 4x4 affine part
    elastic: np.ndarray  # (3, a, b, c) displacement in template voxels on a coarse template grid
    elastic_step: float  # coarse grid spacing in template voxels
    me_center: np.ndarray | None = None  # tumour centre (template voxels)
    me_strength: float = 0.0  # 0..0.4: how much the tissue around the tumour is pushed away
    me_scale: float = 1.0  # template voxels

    def exact(self, world: np.ndarray) -> np.ndarray:
        """Template voxel coordinates (n, 3) of world points (n, 3)."""
        a = self.world_to_template
        tv = world @ a[:3, :3].T + a[:3, 3]
        cc = (tv / self.elastic_step).T
        disp = np.stack(
            [ndi.map_coordinates(self.elastic[d], cc, order=1, mode="nearest") for d in range(3)],
            axis=1,
        )
        tv = tv + disp
        if self.me_center is not None and self.me_strength > 0:
            rel = tv - self.me_center
            r2 = (rel**2).sum(axis=1, keepdims=True) / self.me_scale**2
            tv = self.me_center + rel * (1 - self.me_strength * np.exp(-r2))
        return tv


def make_warp(
    rng: np.random.Generator,
    template_affine: np.ndarray,
    template_shape: tuple[int, int, int],
    *,
    max_rotation_deg: float = 10.0,
    scale_range: tuple[float, float] = (0.92, 1.08),
    translation_mm: float = 12.0,
    elastic_mm: float = 3.0,
) -> tuple[PatientWarp, np.ndarray]:
    """A random head pose + smooth elastic field. Returns the warp and the head centre (RAS)."""
    rot = Rotation.from_euler("xyz", rng.uniform(-max_rotation_deg, max_rotation_deg, 3), degrees=True)
    scale = rng.uniform(*scale_range, size=3)
    shift = rng.uniform(-translation_mm, translation_mm, size=3)
    # template world -> patient world: x = R S (m - m0) + m0 + shift, m0 = centre of the head
    m0 = np.array([0.0, -18.0, 15.0])
    fwd = np.eye(4)
    fwd[:3, :3] = rot.as_matrix() @ np.diag(scale)
    fwd[:3, 3] = m0 + shift - fwd[:3, :3] @ m0
    res = float(np.linalg.norm(template_affine[:3, 0]))
    step = 10.0 / res
    cshape = tuple(int(np.ceil(s / step)) + 2 for s in template_shape)
    field = rng.standard_normal((3, *cshape)).astype(np.float32)
    field = np.stack([ndi.gaussian_filter(f, 1.2, mode="nearest") for f in field])
    field *= (elastic_mm / res) / (np.abs(field).max() + 1e-6)
    warp = PatientWarp(
        world_to_template=np.linalg.inv(template_affine) @ np.linalg.inv(fwd),
        elastic=field,
        elastic_step=step,
    )
    head_center = fwd[:3, :3] @ m0 + fwd[:3, 3]
    return warp, head_center


def _interp_matrix(n: int, knots: np.ndarray) -> np.ndarray:
    eye = np.eye(len(knots), dtype=np.float32)
    x = np.arange(n, dtype=np.float32)
    return np.stack([np.interp(x, knots, eye[j]) for j in range(len(knots))], axis=1).astype(np.float32)


def _knots(n: int, spacing: float) -> np.ndarray:
    step = max(1, int(round(COARSE_STEP_MM / spacing)))
    knots = np.arange(0, n, step, dtype=np.float32)
    if knots[-1] != n - 1:
        knots = np.append(knots, np.float32(n - 1))
    return knots


def upsample(coarse: np.ndarray, mats: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Separable linear upsampling of a (mi, mj, mk) array with interpolation matrices."""
    wi, wj, wk = mats
    out = np.tensordot(wi, coarse, axes=(1, 0))  # (ni, mj, mk)
    out = np.tensordot(out, wj, axes=(1, 1))  # (ni, mk, nj)
    out = np.tensordot(out, wk, axes=(1, 1))  # (ni, nj, nk)
    return out


@dataclass
class Mapping:
    """Template voxel coordinates of the voxels of one grid that may hold signal."""

    grid: Grid
    coords: np.ndarray  # (3, m) float32, for the candidate voxels
    candidates: np.ndarray  # flat indices into the grid (m,)
    slice_offset: np.ndarray  # template-voxel vector of one slice-index step
    coarse_mats: tuple[np.ndarray, np.ndarray, np.ndarray]
    coarse_world: np.ndarray  # (mi, mj, mk, 3) RAS of the coarse nodes


def map_grid(grid: Grid, warp: PatientWarp, support: np.ndarray) -> Mapping:
    """Map ``grid`` into the template; keep only voxels near ``support`` (template-space mask)."""
    spacing = grid.spacing
    knots = [_knots(n, s) for n, s in zip(grid.shape, spacing, strict=True)]
    mats = tuple(_interp_matrix(n, k) for n, k in zip(grid.shape, knots, strict=True))
    kk = np.stack(np.meshgrid(*knots, indexing="ij"), axis=-1).reshape(-1, 3).astype(float)
    world = kk @ grid.affine[:3, :3].T + grid.affine[:3, 3]
    exact = warp.exact(world)
    lin = warp.world_to_template @ grid.affine  # affine part, grid index -> template voxel
    cshape = tuple(len(k) for k in knots)
    exact_grid = exact.reshape(*cshape, 3).astype(np.float32)
    # which voxels can hold signal: support sampled at the coarse nodes, dilated
    sup = ndi.map_coordinates(support, exact.T, order=1, mode="constant", cval=0.0).reshape(cshape)
    sup = ndi.maximum_filter(sup, size=3, mode="constant")
    candidates = np.flatnonzero(upsample(sup.astype(np.float32), mats) > 1e-3)
    # linear interpolation reproduces the affine part exactly: upsample the exact coordinates
    coords = np.empty((3, candidates.size), dtype=np.float32)
    for d in range(3):
        coords[d] = upsample(exact_grid[..., d], mats).reshape(-1)[candidates]
    return Mapping(
        grid=grid,
        coords=coords,
        candidates=candidates,
        slice_offset=lin[:3, 2].astype(np.float32),
        coarse_mats=mats,  # type: ignore[arg-type]
        coarse_world=world.reshape(*cshape, 3),
    )


def sample(
    volume: np.ndarray,
    mapping: Mapping,
    *,
    origin: tuple[int, int, int] = (0, 0, 0),
    thick_average: bool = True,
    order: int = 1,
) -> np.ndarray:
    """Sample a template-space ``volume`` (whose [0,0,0] is template voxel ``origin``) on the
    mapping's grid; zero outside the candidates. Thick slices average two sub-slice samples."""
    out = np.zeros(int(np.prod(mapping.grid.shape)), dtype=np.float32)
    coords = mapping.coords
    if any(origin):
        coords = coords - np.asarray(origin, dtype=np.float32)[:, None]
    spacing = float(mapping.grid.spacing[2])
    res = 1.0
    n_sub = 2 if (thick_average and order == 1 and mapping.grid.thickness >= 2.5 * res) else 1
    if n_sub == 1:
        out[mapping.candidates] = ndi.map_coordinates(
            volume, coords, order=order, mode="constant", cval=0.0, prefilter=False
        )
    else:
        step = (0.25 * mapping.grid.thickness / spacing) * mapping.slice_offset[:, None]
        acc = ndi.map_coordinates(volume, coords - step, order=1, mode="constant", cval=0.0, prefilter=False)
        acc += ndi.map_coordinates(volume, coords + step, order=1, mode="constant", cval=0.0, prefilter=False)
        out[mapping.candidates] = 0.5 * acc
    return out.reshape(mapping.grid.shape)


def sample_box(volume: np.ndarray, lo: tuple[int, int, int], mapping: Mapping, order: int = 1) -> np.ndarray:
    """Like :func:`sample` for a bounding-box volume; only coordinates inside the box are used."""
    out = np.zeros(int(np.prod(mapping.grid.shape)), dtype=np.float32)
    rel = mapping.coords - np.asarray(lo, dtype=np.float32)[:, None]
    inside = np.all((rel >= -1) & (rel <= np.asarray(volume.shape, dtype=np.float32)[:, None]), axis=0)
    if inside.any():
        out[mapping.candidates[inside]] = ndi.map_coordinates(
            volume, rel[:, inside], order=order, mode="constant", cval=0.0, prefilter=False
        )
    return out.reshape(mapping.grid.shape)


def smooth_field_on_grid(mapping: Mapping, func) -> np.ndarray:  # noqa: ANN001 - callable of (n,3) RAS
    """Evaluate a smooth function of RAS position at the coarse nodes and upsample to the grid."""
    cshape = mapping.coarse_world.shape[:3]
    vals = func(mapping.coarse_world.reshape(-1, 3)).reshape(cshape).astype(np.float32)
    return upsample(vals, mapping.coarse_mats)
