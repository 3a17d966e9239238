"""The MNI ICBM152 2009a atlas (nilearn's copy, brain-only T1) and the output grid cut from it."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import ants

logger = logging.getLogger(__name__)

#: nilearn's brain mask of the template is the T1 template above this value (1883 ml)
ATLAS_MASK_THRESHOLD = 0.2


@dataclass(frozen=True)
class Atlas:
    """The atlas at 1 mm and the cropped output grid at the configured resolution."""

    t1: ants.ANTsImage  # 1 mm, full template
    mask: ants.ANTsImage  # 1 mm, uint8-valued float image
    grid_t1: ants.ANTsImage  # output grid: cropped to the brain bounding box, resampled
    grid_mask: ants.ANTsImage  # atlas brain mask on the output grid
    reg_target: ants.ANTsImage  # skull-stripped atlas T1 at the registration resolution
    reg_target_head: ants.ANTsImage  # unmasked template at the registration resolution


@functools.lru_cache(maxsize=4)
def load_atlas(resolution_mm: float = 1.0, registration_resolution_mm: float = 2.0, crop_margin_mm: float = 0.0) -> Atlas:
    """Load the nilearn MNI152 2009a template and build the output and registration grids.

    The output grid covers the bounding box of the atlas brain mask (plus ``crop_margin_mm``)
    with isotropic voxels of ``resolution_mm``.
    """
    import ants
    from nilearn.datasets import load_mni152_template

    from glioma.preprocess.inputs import to_ants

    template = load_mni152_template(resolution=1)
    data = np.asarray(template.get_fdata(), dtype=np.float32)
    t1 = to_ants(data, np.asarray(template.affine, dtype=float))
    mask = t1.new_image_like((t1.numpy() > ATLAS_MASK_THRESHOLD).astype(np.float32))

    # bounding box of the brain in voxel indices of the 1 mm template, plus margin
    idx = np.argwhere(mask.numpy() > 0)
    margin = int(round(crop_margin_mm))
    lower = np.maximum(idx.min(axis=0) - margin, 0)
    upper = np.minimum(idx.max(axis=0) + margin, np.asarray(mask.shape) - 1)
    cropped = ants.crop_indices(t1, lower.tolist(), (upper + 1).tolist())
    if abs(resolution_mm - 1.0) > 1e-6:
        grid_t1 = ants.resample_image(cropped, (resolution_mm,) * 3, use_voxels=False, interp_type=0)
    else:
        grid_t1 = cropped
    grid_mask = ants.resample_image_to_target(mask, grid_t1, interpolator="linear")
    grid_mask = grid_mask.new_image_like((grid_mask.numpy() >= 0.5).astype(np.float32))

    brain = t1 * mask
    if abs(registration_resolution_mm - 1.0) > 1e-6:
        reg_target = ants.resample_image(brain, (registration_resolution_mm,) * 3, use_voxels=False, interp_type=0)
        reg_target_head = ants.resample_image(t1, (registration_resolution_mm,) * 3, use_voxels=False, interp_type=0)
    else:
        reg_target, reg_target_head = brain, t1
    logger.info(
        "atlas: output grid %s at %.2f mm, registration target %s at %.2f mm",
        grid_t1.shape, resolution_mm, reg_target.shape, registration_resolution_mm,
    )
    return Atlas(t1=t1, mask=mask, grid_t1=grid_t1, grid_mask=grid_mask, reg_target=reg_target, reg_target_head=reg_target_head)
