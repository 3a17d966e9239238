"""Scanner effects on a sampled image: bias field, Rician noise, ghosting, intensity scale."""

from __future__ import annotations

import numpy as np

from glioma.synth.geometry import Mapping, smooth_field_on_grid


def bias_field(mapping: Mapping, rng: np.random.Generator, strength: float, center: np.ndarray) -> np.ndarray:
    """Smooth multiplicative field: exp of a random quadratic in RAS position (100 mm units)."""
    lin = rng.normal(0, 1, 3)
    quad = rng.normal(0, 0.5, (3, 3))
    quad = (quad + quad.T) / 2

    def field(world: np.ndarray) -> np.ndarray:
        x = (world - center) / 100.0
        val = x @ lin + np.einsum("ni,ij,nj->n", x, quad, x)
        return np.exp(strength * np.tanh(val))

    return smooth_field_on_grid(mapping, field)


def rician(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude noise: |image + n| (one Gaussian draw per voxel; half-normal background)."""
    noisy = image + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.abs(noisy, out=noisy)


def ghosting(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Motion ghosts: faint copies shifted by half the field of view along the phase direction."""
    axis = int(rng.integers(0, 2))
    amp = np.float32(rng.uniform(0.08, 0.18))
    shift = image.shape[axis] // 2
    return image + amp * (np.roll(image, shift, axis=axis) + np.roll(image, -shift, axis=axis)) / 2


def to_stored(
    image: np.ndarray, scale: float, offset: float, slope: float, intercept: float, bits: int = 12
) -> np.ndarray:
    """Physical value = stored * slope + intercept; physical = image * scale + offset."""
    phys = image * np.float32(scale) + np.float32(offset)
    stored = np.rint((phys - intercept) / slope)
    return np.clip(stored, 0, 2**bits - 1).astype(np.uint16)
