"""The tumour: edema, solid core, optional necrosis, enhancing rim, calcifications, mismatch.

Painted into the template-space contrasts inside a bounding box (and removed again afterwards),
driven by the patient's latent appearance variables (``labels.LATENT_NAMES``) plus label-free
nuisance drawn here (shape, hemisphere, position within the lobe, rim thickness...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from glioma.synth.anatomy import Anatomy

#: signal of the tumour components per contrast (healthy WM on T1 = 1)
TUMOR_SIGNAL: dict[str, dict[str, float]] = {
    "t1": {"edema": 0.58, "core": 0.50, "enh": 0.55, "nec": 0.25, "calc": 0.12, "cavity": 0.20},
    "t1c": {"edema": 0.60, "core": 0.53, "enh": 1.50, "nec": 0.27, "calc": 0.12, "cavity": 0.22},
    "t2": {"edema": 0.88, "core": 0.92, "enh": 0.72, "nec": 1.05, "calc": 0.08, "cavity": 1.00},
    "flair": {"edema": 0.95, "core": 0.90, "enh": 0.80, "nec": 0.45, "calc": 0.10, "cavity": 0.10},
}
MISMATCH_CORE_T2 = 1.0
MISMATCH_CORE_FLAIR = 0.32


def _sig(x: np.ndarray, width: float) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x / width, -30, 30)))).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], cells: int = 5) -> np.ndarray:
    coarse = rng.standard_normal((cells, cells, cells)).astype(np.float32)
    factors = [s / cells for s in shape]
    out = ndi.zoom(coarse, factors, order=1, mode="nearest", grid_mode=True)
    out = out[: shape[0], : shape[1], : shape[2]]
    return out / (out.std() + 1e-6)


@dataclass
class Tumor:
    """Tumour weights inside a template-space bounding box."""

    lo: tuple[int, int, int]  # bbox corner (template voxel index)
    center_vox: np.ndarray  # tumour centre (template voxel index)
    radius_mm: float  # core radius
    extent_mm: float  # core + edema radius
    weights: dict[str, np.ndarray]  # edema, core, enh, nec, calc, cavity (bbox-sized, 0..1)
    mismatch: bool
    rim_factor: np.ndarray  # 0 inside, 1 at the core border (FLAIR rim for mismatch)
    texture: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        shape = self.weights["core"].shape
        return tuple(slice(lo, lo + n) for lo, n in zip(self.lo, shape, strict=True))  # type: ignore[return-value]

    @property
    def whole(self) -> np.ndarray:
        """Whole-tumour fraction (the T2w-hyperintense region) in the bbox."""
        return np.maximum(self.weights["edema"], np.maximum(self.weights["core"], self.weights["cavity"]))

    def brats_labels(self) -> np.ndarray:
        """BraTS codes in the bbox: 1 necrosis/non-enhancing core, 2 edema, 4 enhancing."""
        w = self.weights
        lab = np.zeros(w["core"].shape, dtype=np.uint8)
        lab[self.whole > 0.5] = 2
        lab[np.maximum(w["core"], w["cavity"]) > 0.5] = 1
        lab[w["enh"] > 0.5] = 4
        return lab

    def signal(self, contrast: str, healthy: np.ndarray) -> np.ndarray:
        s = TUMOR_SIGNAL[contrast]
        w = self.weights
        v = healthy.copy()
        v += w["edema"] * (s["edema"] * self.texture - v)
        core = s["core"]
        if self.mismatch and contrast == "t2":
            core = MISMATCH_CORE_T2
        if self.mismatch and contrast == "flair":
            core_img = MISMATCH_CORE_FLAIR + (s["core"] - MISMATCH_CORE_FLAIR) * self.rim_factor
        else:
            core_img = core * self.texture
        v += w["core"] * (core_img - v)
        v += w["cavity"] * (s["cavity"] - v)
        v += w["enh"] * (s["enh"] * self.texture - v)
        v += w["nec"] * (s["nec"] - v)
        v += w["calc"] * (s["calc"] - v)
        return v

    @contextlib.contextmanager
    def painted(self, anatomy: Anatomy) -> Iterator[None]:
        """Paint the tumour into ``anatomy.contrasts`` and restore the healthy values afterwards."""
        sl = self.slices
        saved = {k: v[sl].copy() for k, v in anatomy.contrasts.items()}
        try:
            for name, vol in anatomy.contrasts.items():
                vol[sl] = self.signal(name, saved[name])
            yield
        finally:
            for name, vol in anatomy.contrasts.items():
                vol[sl] = saved[name]


def make_tumor(
    anatomy: Anatomy, latents: dict[str, float], rng: np.random.Generator, *, postop: bool = False
) -> Tumor:
    """Build the tumour of one patient from its latents; nuisance comes from ``rng``."""
    res = anatomy.resolution_mm
    cands = anatomy.region_candidates(bool(latents["frontal"] > 0.5))
    center = cands[rng.integers(len(cands))].astype(float)
    if rng.random() < 0.5:  # mirror to the other hemisphere
        world = anatomy.affine[:3, :3] @ center + anatomy.affine[:3, 3]
        world[0] = -world[0]
        center = anatomy.inv_affine[:3, :3] @ world + anatomy.inv_affine[:3, 3]
        center = np.clip(np.round(center), 0, np.asarray(anatomy.shape) - 1)
    volume_mm3 = 1000.0 * float(np.exp(latents["log_volume"]))
    radius = float((3 * volume_mm3 / (4 * np.pi)) ** (1 / 3))
    edema = radius * float(np.exp(latents["log_edema"]))
    axes = radius * rng.uniform(0.8, 1.2, size=3)
    rot, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    extent = float(axes.max() * 1.2 + edema + 6.0)
    half = int(np.ceil(extent / res))
    shape = np.asarray(anatomy.shape)
    lo = np.clip(center.astype(int) - half, 0, shape - 1)
    hi = np.clip(center.astype(int) + half + 1, 1, shape)
    box = tuple(int(h - lo_) for lo_, h in zip(lo, hi, strict=True))
    grid = np.indices(box, dtype=np.float32).reshape(3, -1).T + lo - center  # voxel offsets
    local = (grid * res) @ rot  # mm in the tumour's own frame
    r_norm = np.sqrt(((local / axes) ** 2).sum(axis=1)).reshape(box)
    shape_noise = _smooth_noise(rng, box)
    dist = r_norm * radius * (1 + 0.12 * shape_noise)  # mm from the centre, irregular
    sl = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    brain = anatomy.brain[sl]
    wm, gm = anatomy.wm[sl], anatomy.gm[sl]
    soft = max(0.8, 0.5 * res)
    core = _sig(radius - dist, soft) * np.clip(brain * 1.2, 0, 1)
    edema_w = _sig(radius + edema - dist, 1.5 * soft) * np.clip(1.3 * wm + 0.5 * gm, 0, 1)
    zeros = np.zeros(box, dtype=np.float32)
    nec = zeros
    enh = zeros
    calc = zeros
    cavity = zeros
    if latents["necrosis"] > 0.5:
        nec = _sig(radius * rng.uniform(0.45, 0.65) - dist, soft) * core
    if latents["enhancing"] > 0.5:
        if latents["necrosis"] > 0.5:
            rim = rng.uniform(3.0, 6.0)
            enh = (_sig(radius - dist, soft) - _sig(radius - rim - dist, soft)).clip(0, 1) * core
            enh = np.maximum(enh, nec * 0)  # rim only; necrosis painted on top
        else:
            patches = _smooth_noise(rng, box, cells=7)
            enh = _sig(patches - 0.3, 0.3) * core
    if latents["calcified"] > 0.5:
        n_calc = int(rng.integers(3, 7))
        calc = np.zeros(box, dtype=np.float32)
        for _ in range(n_calc):
            direction = rng.standard_normal(3)
            direction /= np.linalg.norm(direction)
            pos = direction * radius * rng.uniform(0.0, 0.7) / res
            blob_r = rng.uniform(2.0, 3.5)
            d = np.sqrt((((grid - pos) * res) ** 2).sum(axis=1)).reshape(box)
            calc = np.maximum(calc, _sig(blob_r - d, 0.6))
        calc *= core
    if postop:
        cavity = _sig(radius * 0.85 - dist, soft) * core
        enh = (_sig(radius - dist, soft) - _sig(radius - 2.0 - dist, soft)).clip(0, 1) * core * 0.6
        nec = zeros
        calc = zeros
        core = core * (1 - cavity)
    rim_factor = _sig(dist - (radius - 3.0), soft)
    texture = (1 + 0.06 * _smooth_noise(rng, box, cells=9)).astype(np.float32)
    weights = {"edema": edema_w, "core": core, "enh": enh, "nec": nec, "calc": calc, "cavity": cavity}
    return Tumor(
        lo=tuple(int(v) for v in lo),  # type: ignore[arg-type]
        center_vox=center,
        radius_mm=radius,
        extent_mm=radius + edema,
        weights={k: v.astype(np.float32) for k, v in weights.items()},
        mismatch=bool(latents["mismatch"] > 0.5) and not postop,
        rim_factor=rim_factor,
        texture=texture,
    )
