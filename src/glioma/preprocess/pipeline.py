"""One patient's preprocessing, in the order the real-patient measurements support:

1. read and check the four native scans (and the segmentation, if any);
2. rigid co-registration of T1, T2 and FLAIR to the T1c (ANTsPy, Mattes MI);
3. skull stripping of the native T1c only (HD-BET v1 by default; a scan that is already
   skull-stripped, as BraTS data, keeps its own brain);
4. affine (or SyN) registration of the skull-stripped T1c to the skull-stripped MNI152 2009a atlas;
   (``atlas`` backend: rigid of the whole head, atlas mask back-projected, then affine of that brain)
5. one resampling of each native scan onto the cropped atlas grid (all transforms composed);
6. N4 bias-field correction within the brain, in atlas space;
7. clipping to the 1st-99th percentile and z-scoring within the brain;
8. segmentation carried into atlas space with label interpolation;
9. QC: registration/volume checks (failure -> excluded with reason), QC figure, qc.json.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from glioma import __version__
from glioma.errors import InputError
from glioma.io.atomic import atomic_path, write_json
from glioma.preprocess.config import PreprocessConfig
from glioma.preprocess.inputs import load_scan
from glioma.preprocess.qc import correlation, dice, qc_figure
from glioma.schema import PREPROCESS_FILES, SEQUENCES

logger = logging.getLogger(__name__)


class _Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._start = time.perf_counter()
        self._last = self._start

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._last, 2)
        self._last = now
        logger.info("  %s: %.1f s", name, self.times[name])

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self._start, 2)


def _write_image(image: Any, target: Path, pixel_type: str) -> None:
    import ants

    with atomic_path(target) as tmp:
        ants.image_write(image.clone(pixel_type), str(tmp))


def _excluded(out_dir: Path, subject: str, reason: str, base: dict[str, Any]) -> dict[str, Any]:
    record = dict(base, status="excluded", reason=reason)
    write_json(out_dir / PREPROCESS_FILES["qc"], record)
    logger.warning("patient %r excluded: %s", subject, reason)
    return record


def preprocess_subject(
    scans: Mapping[str, str | Path],
    out_dir: str | Path,
    *,
    subject: str,
    config: PreprocessConfig | None = None,
    seg: str | Path | None = None,
    seg_reference: str = "t1c",
    cohort: str = "",
) -> dict[str, Any]:
    """Preprocess one patient's four native scans into ``out_dir`` (files of schema.PREPROCESS_FILES).

    Always writes ``qc.json``; for bad input or a failed registration it says
    ``"status": "excluded"`` with the reason and no volumes are written. Returns the qc record.
    """
    config = config or PreprocessConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base: dict[str, Any] = {
        "subject": subject,
        "cohort": cohort,
        "status": "ok",
        "reason": "",
        "skull_strip": config.skull_strip,
        "atlas_transform": config.atlas_transform,
        "resolution_mm": config.resolution_mm,
        "glioma_version": __version__,
        "python": platform.python_version(),
        "threads": os.environ.get("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", ""),
        "inputs": {k: str(v) for k, v in scans.items()} | ({"seg": str(seg)} if seg else {}),
        "config": config.to_dict(),
    }
    missing = [s for s in SEQUENCES if s not in scans]
    if missing:
        return _excluded(out_dir, subject, f"missing sequence(s) {missing}", base)
    try:
        with tempfile.TemporaryDirectory(prefix=f"preprocess-{subject}-") as workdir:
            record = _run(scans, out_dir, Path(workdir), subject=subject, config=config, seg=seg,
                          seg_reference=seg_reference, base=base)
    except InputError as err:
        return _excluded(out_dir, subject, str(err), base)
    return record


def _run(
    scans: Mapping[str, str | Path],
    out_dir: Path,
    workdir: Path,
    *,
    subject: str,
    config: PreprocessConfig,
    seg: str | Path | None,
    seg_reference: str,
    base: dict[str, Any],
) -> dict[str, Any]:
    import ants

    from glioma.preprocess import registration as reg
    from glioma.preprocess.atlas import load_atlas
    from glioma.preprocess.normalize import effective_n4_shrink, n4, zscore_within
    from glioma.preprocess.skullstrip import native_brain_mask, stripped_input_mask

    qc = config.qc
    timer = _Timer()
    metrics: dict[str, Any] = base.setdefault("metrics", {})  # kept in qc.json when excluded
    logger.info("patient %r: preprocessing (%s, %.1f mm)", subject, config.skull_strip, config.resolution_mm)
    native = {seq: load_scan(scans[seq], subject=subject, qc=qc) for seq in SEQUENCES}
    seg_native = None
    if seg is not None:
        if seg_reference not in SEQUENCES:
            raise InputError(f"seg_reference {seg_reference!r} is not a sequence", subject=subject, path=seg)
        seg_native = _load_segmentation(seg, native[seg_reference], subject=subject)
    atlas = load_atlas(config.resolution_mm, config.registration_resolution_mm, config.crop_margin_mm)
    timer.lap("read")

    # 2. rigid co-registration to the T1c
    t1c = native["t1c"]
    chain_coreg: dict[str, str] = {}
    t1c_coarse = reg.coarse_copy(t1c)
    for seq in ("t1", "t2", "flair"):
        moving = reg.coarse_copy(native[seq])
        try:
            mat, warped = reg.rigid_coregister(t1c_coarse, moving, workdir)
        except RuntimeError as err:
            raise InputError(f"co-registration of {seq} to t1c failed: {err}", subject=subject, path=scans[seq]) from err
        chain_coreg[seq] = mat
        before = reg.mutual_information(t1c_coarse, moving)
        after = reg.mutual_information(t1c_coarse, warped)
        metrics[f"coreg_mi_before_{seq}"] = round(before, 4)
        metrics[f"coreg_mi_after_{seq}"] = round(after, 4)
        metrics[f"coreg_mi_gain_{seq}"] = round(after - before, 4)
    timer.lap("coregister")

    # 3.-4. skull strip (native T1c) and register the brain to the atlas
    stripped = None
    if config.detect_skull_stripped:
        stripped = stripped_input_mask(t1c, min_ml=qc.min_brain_volume_ml, max_ml=qc.max_stripped_volume_ml)
    metrics["input_skull_stripped"] = stripped is not None
    try:
        if stripped is not None:
            mask_native = stripped
            metrics["brain_volume_ml"] = round(float(mask_native.sum()) * float(np.prod(t1c.spacing)) / 1000.0, 1)
            timer.lap("skull_strip")
            chain = reg.register_to_atlas(t1c * mask_native, atlas.reg_target, workdir, transform=config.atlas_transform)
        elif config.skull_strip == "atlas":
            rigid = reg.rigid_to_atlas_head(t1c, atlas.reg_target_head, workdir)
            timer.lap("rigid_head_to_atlas")
            mask_native = ants.apply_transforms(
                fixed=t1c, moving=atlas.mask, transformlist=[rigid], whichtoinvert=[True], interpolator="linear"
            )
            mask_native = mask_native.new_image_like((mask_native.numpy() >= 0.5).astype(np.float32))
            timer.lap("skull_strip")
            chain = reg.register_to_atlas(t1c * mask_native, atlas.reg_target, workdir,
                                          transform=config.atlas_transform, initial_transform=rigid)
        else:
            mask_native = native_brain_mask(
                t1c, config.skull_strip, hdbet_mode=config.hdbet_mode, hdbet_tta=config.hdbet_tta,
                hdbet2_weights=config.hdbet2_weights,
            )
            timer.lap("skull_strip")
            volume_ml = float(mask_native.sum()) * float(np.prod(t1c.spacing)) / 1000.0
            metrics["brain_volume_ml"] = round(volume_ml, 1)
            if not qc.min_brain_volume_ml <= volume_ml <= qc.max_brain_volume_ml:
                raise InputError(
                    f"brain volume {volume_ml:.0f} ml outside {qc.min_brain_volume_ml:.0f}-"
                    f"{qc.max_brain_volume_ml:.0f} ml (not a brain scan, or skull stripping failed)",
                    subject=subject, path=scans["t1c"],
                )
            chain = reg.register_to_atlas(t1c * mask_native, atlas.reg_target, workdir, transform=config.atlas_transform)
    except RuntimeError as err:
        raise InputError(f"registration to the atlas failed: {err}", subject=subject, path=scans["t1c"]) from err
    chain.coreg = chain_coreg
    timer.lap("register_atlas")

    # 5. one resampling per scan onto the cropped atlas grid
    grid = atlas.grid_t1
    grid_mask_atlas = atlas.grid_mask.numpy() > 0
    warped: dict[str, ants.ANTsImage] = {}
    fov: dict[str, np.ndarray] = {}
    for seq in SEQUENCES:
        warped[seq] = reg.to_atlas(native[seq], seq, chain, grid, interpolator="linear")
        ones = native[seq].new_image_like(np.ones(native[seq].shape, dtype=np.float32))
        fov[seq] = reg.to_atlas(ones, seq, chain, grid, interpolator="linear").numpy() > 0.99
    if config.skull_strip == "atlas" and stripped is None:
        mask = grid_mask_atlas & fov["t1c"]
        metrics["brain_volume_ml"] = round(float(mask.sum()) * config.resolution_mm**3 / 1000.0, 1)
    else:
        mask = reg.to_atlas(mask_native, "t1c", chain, grid, interpolator="linear").numpy() >= 0.5
    mask_img = grid.new_image_like(mask.astype(np.float32))
    timer.lap("resample")

    # 6.-7. N4 within the brain, then clip and z-score within the brain
    shrink = effective_n4_shrink(config.n4_shrink, config.resolution_mm)
    normalized: dict[str, np.ndarray] = {}
    for seq in SEQUENCES:
        inside = mask & fov[seq]
        corrected = n4(warped[seq], grid.new_image_like(inside.astype(np.float32)), shrink)
        normalized[seq] = zscore_within(corrected.numpy(), inside, config.clip_percentiles)
    timer.lap("n4_normalize")

    # QC of the atlas registration: the normalized T1 against the atlas T1, our mask against the
    # atlas mask (both inside the scanned field of view)
    inside_fov = grid_mask_atlas & fov["t1c"]
    metrics["atlas_correlation"] = round(correlation(normalized["t1"], grid.numpy(), inside_fov & fov["t1"]), 4)
    metrics["atlas_mask_dice"] = round(dice(mask & fov["t1c"], inside_fov), 4)
    metrics["fov_brain_fraction"] = round(float(inside_fov.sum() / grid_mask_atlas.sum()), 4)
    problems = []
    if not metrics["atlas_correlation"] >= qc.min_atlas_correlation:
        problems.append(f"correlation with the atlas {metrics['atlas_correlation']:.3f} < {qc.min_atlas_correlation}")
    if not metrics["atlas_mask_dice"] >= qc.min_atlas_mask_dice:
        problems.append(f"brain mask Dice with the atlas {metrics['atlas_mask_dice']:.3f} < {qc.min_atlas_mask_dice}")
    if metrics["fov_brain_fraction"] < qc.min_fov_brain_fraction:
        problems.append(f"only {metrics['fov_brain_fraction']:.0%} of the atlas brain is in the scanned field of view")
    if problems:
        raise InputError("registration to the atlas failed QC: " + "; ".join(problems), subject=subject, path=scans["t1c"])

    # 8. segmentation into atlas space (label interpolation)
    tumor = None
    if seg_native is not None:
        tumor = reg.to_atlas(seg_native, seg_reference, chain, grid, interpolator="genericLabel").numpy() > 0.5
        metrics["seg_voxels"] = int(tumor.sum())
        metrics["seg_in_mask_fraction"] = round(float((tumor & mask).sum() / max(int(tumor.sum()), 1)), 4)
        if not tumor.any():
            raise InputError("segmentation is empty after mapping into atlas space", subject=subject, path=seg)

    # write
    for seq in SEQUENCES:
        _write_image(grid.new_image_like(normalized[seq]), out_dir / PREPROCESS_FILES[seq], "float")
    _write_image(mask_img, out_dir / PREPROCESS_FILES["brain_mask"], "unsigned char")
    if tumor is not None:
        _write_image(grid.new_image_like(tumor.astype(np.float32)), out_dir / PREPROCESS_FILES["seg"], "unsigned char")
    chain.save(out_dir / PREPROCESS_FILES["transforms"], native, config.atlas_transform)
    qc_figure(normalized, mask, tumor, out_dir / PREPROCESS_FILES["qc_png"],
              title=f"{subject}: {config.skull_strip}, {config.resolution_mm:g} mm")
    timer.lap("write")
    record = dict(base, timings=timer.times, seconds=timer.total,
                  grid={"shape": list(grid.shape), "spacing": list(grid.spacing), "origin": list(grid.origin)})
    write_json(out_dir / PREPROCESS_FILES["qc"], record)
    logger.info("patient %r: done in %.1f s", subject, timer.total)
    return record


def _load_segmentation(path: str | Path, reference: Any, *, subject: str) -> Any:
    """The whole-tumour mask (any non-zero label) on its own grid, checked against ``reference``."""
    from glioma.preprocess.inputs import read_scan_array, to_ants

    try:
        data, affine = read_scan_array(path, subject=subject)
    except InputError as err:
        if "constant" in err.problem or "empty" in err.problem:
            raise InputError("segmentation is empty", subject=subject, path=path) from err
        raise
    image = to_ants((data > 0).astype(np.float32), affine)
    lo = np.asarray(reference.origin)
    if np.linalg.norm(np.asarray(image.origin) - lo) > 50 * max(reference.spacing):
        raise InputError("segmentation does not lie on its reference scan's grid", subject=subject, path=path)
    return image
