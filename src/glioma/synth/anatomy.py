"""Healthy head anatomy from the MNI ICBM152 2009a template shipped inside nilearn.

The template is skull-stripped; CSF, skull (with diploe) and scalp layers are added as shells at
fixed distances from the brain mask. Healthy contrasts are a linear signal model of the tissue
fractions (T1 mixed with the template's own T1 texture). Everything lives on the template grid
(optionally coarsened to ``resolution_mm``) and is computed once per process.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

log = logging.getLogger(__name__)

#: signal of the healthy tissue classes, per contrast (arbitrary units, WM on T1 = 1)
TISSUE_SIGNAL: dict[str, dict[str, float]] = {
    "t1": {"wm": 1.00, "gm": 0.62, "csf": 0.20, "bone": 0.04, "marrow": 0.90, "fat": 1.05},
    "t1c": {"wm": 1.00, "gm": 0.64, "csf": 0.24, "bone": 0.04, "marrow": 0.92, "fat": 1.05},
    "t2": {"wm": 0.42, "gm": 0.58, "csf": 1.00, "bone": 0.04, "marrow": 0.45, "fat": 0.62},
    "flair": {"wm": 0.50, "gm": 0.68, "csf": 0.07, "bone": 0.04, "marrow": 0.50, "fat": 0.66},
}
CSF_SHELL_MM = 2.5
SKULL_MM = 7.0
SCALP_MM = 6.0


@dataclass(frozen=True)
class Anatomy:
    """Template-space tissue maps and healthy contrasts (float32, same grid)."""

    affine: np.ndarray  # voxel index -> MNI world (RAS, mm)
    resolution_mm: float
    gm: np.ndarray
    wm: np.ndarray
    brain: np.ndarray  # brain mask fraction (GM + WM + internal CSF)
    head: np.ndarray  # anything but air
    contrasts: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.gm.shape)  # type: ignore[return-value]

    @functools.cached_property
    def inv_affine(self) -> np.ndarray:
        return np.linalg.inv(self.affine)

    def region_candidates(self, frontal: bool) -> np.ndarray:
        """Voxel indices (n, 3) of deep white matter in the frontal lobe or elsewhere."""
        return _candidates(self, frontal)


def _candidates(anat: Anatomy, frontal: bool) -> np.ndarray:
    key = (id(anat), frontal)
    if key not in _CANDIDATE_CACHE:
        idx = np.argwhere(anat.wm > 0.6)
        world = idx @ anat.affine[:3, :3].T + anat.affine[:3, 3]
        lateral = np.abs(world[:, 0]) > 12
        if frontal:
            keep = lateral & (world[:, 1] > 8) & (world[:, 2] > -15)
        else:
            keep = lateral & (world[:, 1] < -8) & (world[:, 2] > -20) & (world[:, 1] > -85)
        _CANDIDATE_CACHE[key] = idx[keep]
    return _CANDIDATE_CACHE[key]


_CANDIDATE_CACHE: dict[tuple[int, bool], np.ndarray] = {}


def _smoothstep(x: np.ndarray, width: float = 0.7) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x / width, -30, 30)))).astype(np.float32)


@functools.lru_cache(maxsize=2)
def load_anatomy(resolution_mm: float = 1.0) -> Anatomy:
    """Load the nilearn template (no download: the files ship inside nilearn) and build tissues."""
    from nilearn import datasets

    t1_img = datasets.load_mni152_template(resolution=1)
    affine = np.asarray(t1_img.affine, dtype=float)
    t1 = np.asarray(t1_img.dataobj, dtype=np.float32)
    gm = np.asarray(datasets.load_mni152_gm_template(resolution=1).dataobj, dtype=np.float32)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=1).dataobj, dtype=np.float32)
    mask = np.asarray(datasets.load_mni152_brain_mask(resolution=1).dataobj) > 0
    if resolution_mm != 1.0:
        factor = 1.0 / resolution_mm
        t1, gm, wm = (ndi.zoom(a, factor, order=1) for a in (t1, gm, wm))
        mask = ndi.zoom(mask.astype(np.float32), factor, order=1) > 0.5
        affine = affine.copy()
        affine[:3, :3] *= resolution_mm
    brain = ndi.gaussian_filter(mask.astype(np.float32), 0.6 / resolution_mm)
    gm = np.minimum(gm, brain)
    wm = np.minimum(wm, brain - gm)
    csf_inside = np.clip(brain - gm - wm, 0, 1)
    # distance (mm) outside the brain mask: CSF shell, skull with diploe, scalp
    dist = ndi.distance_transform_edt(~mask).astype(np.float32) * resolution_mm
    soft = 0.7
    in_csf = _smoothstep(CSF_SHELL_MM - dist, soft) * (1 - brain)
    skull_out = CSF_SHELL_MM + SKULL_MM
    in_skull = _smoothstep(dist - CSF_SHELL_MM, soft) * _smoothstep(skull_out - dist, soft)
    in_marrow = in_skull * _smoothstep(1.5 - np.abs(dist - CSF_SHELL_MM - SKULL_MM / 2), soft)
    in_bone = in_skull - in_marrow
    in_fat = _smoothstep(dist - skull_out, soft) * _smoothstep(skull_out + SCALP_MM - dist, soft)
    csf = csf_inside + in_csf
    head = np.clip(brain + in_csf + in_skull + in_fat, 0, 1).astype(np.float32)
    fractions = {"wm": wm, "gm": gm, "csf": csf, "bone": in_bone, "marrow": in_marrow, "fat": in_fat}
    wm_ref = float(np.median(t1[wm > 0.9])) if np.any(wm > 0.9) else 1.0
    texture = t1 / wm_ref
    contrasts: dict[str, np.ndarray] = {}
    for name, table in TISSUE_SIGNAL.items():
        img = np.zeros(gm.shape, dtype=np.float32)
        for tissue, value in table.items():
            img += value * fractions[tissue]
        if name in ("t1", "t1c"):
            # the template's own T1 contrast inside the brain adds realistic texture
            img = img * (1 - 0.5 * brain) + 0.5 * brain * texture
        contrasts[name] = img.astype(np.float32)
    log.info("anatomy loaded at %.1f mm: grid %s", resolution_mm, gm.shape)
    return Anatomy(
        affine=affine,
        resolution_mm=resolution_mm,
        gm=gm.astype(np.float32),
        wm=wm.astype(np.float32),
        brain=brain.astype(np.float32),
        head=head,
        contrasts=contrasts,
    )
