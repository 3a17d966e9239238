"""Bias-field correction and intensity normalization (atlas space, within the brain)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import ants

logger = logging.getLogger(__name__)


def effective_n4_shrink(n4_shrink: int, resolution_mm: float) -> int:
    """N4's shrink factor on a grid of ``resolution_mm``: ``n4_shrink`` is meant for the 1 mm
    grid (6 by default), coarser grids shrink proportionally less but at least by 2 (on the 3 mm grid, shrink 2
    matched the 1 mm shrink-4 result better, r = 0.996, and 8x faster than shrink 1, r = 0.976)."""
    return max(2, int(round(n4_shrink / resolution_mm)))


def n4(image: ants.ANTsImage, mask: ants.ANTsImage, shrink: int) -> ants.ANTsImage:
    """N4 bias-field correction inside ``mask`` (negative intensities are clipped to 0 first)."""
    import ants

    positive = image.new_image_like(np.clip(image.numpy(), 0, None))
    if float(mask.sum()) < 10:
        return positive
    return ants.n4_bias_field_correction(positive, mask=mask, shrink_factor=int(shrink))


def zscore_within(
    data: np.ndarray, mask: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)
) -> np.ndarray:
    """Clip to the ``percentiles`` of the voxels in ``mask``, z-score with their mean and standard
    deviation, and set everything outside ``mask`` to 0 (float32)."""
    inside = mask > 0
    out = np.zeros(data.shape, dtype=np.float32)
    if not np.any(inside):
        return out
    values = data[inside].astype(np.float64)
    low, high = np.percentile(values, percentiles)
    clipped = np.clip(values, low, high)
    std = float(clipped.std())
    out[inside] = ((clipped - clipped.mean()) / (std if std > 0 else 1.0)).astype(np.float32)
    return out
