"""Typed configuration of the generator, built from a cohort YAML's ``synthetic:`` block."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

from glioma.errors import ConfigError
from glioma.synth.labels import DEFAULT_CLASS_PRIOR

DEFAULT_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "t1": ("AX T1 PRE", "SAG T1", "T1 AX SE", "AX T1"),
    "t1c": ("T1 POST GAD", "AX T1 C+", "AX T1 POST", "T1 AX SE POST"),
    "t1_3d": ("3D T1 MPRAGE", "SAG 3D T1 PRE"),
    "t1c_3d": ("3D T1 MPRAGE POST", "SAG 3D T1 C+"),
    "t2": ("T2 FSE", "AX T2", "AX T2 FSE", "T2 AX TSE"),
    "flair": ("AX FLAIR", "T2 FLAIR AX", "FLAIR AXIAL", "AX T2 FLAIR"),
    "t1c_lowres": ("COR T1 C+", "T1 POST LOW RES", "COR T1 POST"),
    "localizer": ("3-PLANE LOC", "LOCALIZER", "3 PLANE LOC"),
    "dwi": ("AX DWI", "DWI b1000", "AX DIFFUSION"),
    "adc": ("ADC", "AX DWI_ADC", "Apparent Diffusion Coefficient (mm2/s)"),
}


@dataclass(frozen=True)
class ScannerProfile:
    """One institute: scanner, acquisition choices and image degradations."""

    name: str
    code: str = "A1"
    weight: float = 1.0
    manufacturer: str = "SIEMENS"
    model: str = "Avanto"
    field_strength: float = 1.5
    in_plane_mm: tuple[float, float] = (0.45, 1.0)
    slice_thickness_mm: tuple[float, float] = (4.0, 6.0)
    slice_gap_mm: tuple[float, float] = (0.0, 1.0)
    p_3d: float = 0.2
    thickness_3d_mm: tuple[float, float] = (1.0, 1.5)
    planes: dict[str, float] = field(default_factory=lambda: {"axial": 0.8, "sagittal": 0.1, "coronal": 0.1})
    oblique_deg: float = 6.0
    fov_mm: tuple[float, float] = (220.0, 256.0)
    intensity_scale: tuple[float, float] = (400.0, 1200.0)
    intensity_offset: tuple[float, float] = (0.0, 40.0)
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    bias_strength: float = 0.25
    noise: float = 0.025
    p_ghosting: float = 0.05
    p_missing_slice: float = 0.03
    contrast_agent: str = "GADAVIST"
    study_description: str = "MRI BRAIN W WO CONTRAST"
    series_descriptions: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_DESCRIPTIONS))


@dataclass(frozen=True)
class SynthConfig:
    """Everything ``glioma synth`` needs for one cohort."""

    cohort: str
    layout: str  # tcia_dicom | brats_nifti
    n_patients: int
    seed: int
    institutes: tuple[ScannerProfile, ...]
    id_style: str = "tcga"  # tcga | numeric | brats
    id_prefix: str = "SYN"
    resolution_mm: float = 1.0
    unknown_fraction: dict[str, float] = field(default_factory=dict)
    fraction_missing_sequence: float = 0.05
    fraction_postop: float = 0.05
    fraction_no_segmentation: float = 0.1
    segmentation_source: str = "manual"
    seg_reference: dict[str, float] = field(default_factory=lambda: {"t1c": 0.7, "flair": 0.3})
    clinical_table: str = "tsv"  # tsv | xlsx (tcia_dicom)
    distractors: bool = True
    class_prior: tuple[float, ...] = DEFAULT_CLASS_PRIOR


UNKNOWN_KEYS = ("idh", "codeletion", "grade", "age", "sex", "survival")


def _tuple_fields(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    for f in fields(cls):
        if f.name in out and isinstance(out[f.name], list) and str(f.type).startswith("tuple"):
            out[f.name] = tuple(out[f.name])
    return out


def derive_seed(global_seed: int, cohort: str) -> int:
    digest = hashlib.sha256(f"{global_seed}:{cohort}".encode()).hexdigest()
    return int(digest[:8], 16)


def synth_spec(cohort: dict[str, Any]) -> dict[str, Any]:
    """The part of a cohort dict the generator reads: name, layout, ``synthetic:`` block and
    segmentation source. ``from_cohort`` reads the cohort only through this, so the workflow can
    rerun a cohort's generation exactly when this changes (a label table does not change it)."""
    return {
        "name": cohort.get("name"),
        "layout": cohort.get("layout"),
        "synthetic": cohort.get("synthetic"),
        "segmentation_source": (cohort.get("segmentation") or {}).get("source", "manual"),
    }


def from_cohort(cohort: dict[str, Any], global_seed: int = 42, source: str = "cohort file") -> SynthConfig:
    """Build the config from a cohort dict (validated against cohort.schema.yaml)."""
    cohort = synth_spec(cohort)
    block = dict(cohort.get("synthetic") or {})
    if not block:
        raise ConfigError(f"{source}: no 'synthetic:' block")
    known = {f.name for f in fields(SynthConfig)} - {"cohort", "layout", "segmentation_source"}
    unknown = sorted(set(block) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in synthetic: {', '.join(unknown)}")
    layout = cohort.get("layout")
    if layout not in ("tcia_dicom", "brats_nifti"):
        raise ConfigError(f"{source}: synthetic cohorts need layout tcia_dicom or brats_nifti, not {layout!r}")
    raw_insts = block.pop("institutes", None) or [{"name": f"{cohort['name']}-SITE"}]
    inst_keys = {f.name for f in fields(ScannerProfile)}
    institutes = []
    for i, raw in enumerate(raw_insts):
        bad = sorted(set(raw) - inst_keys)
        if bad:
            raise ConfigError(f"{source}: unknown key(s) in synthetic.institutes[{i}]: {', '.join(bad)}")
        raw = _tuple_fields(ScannerProfile, raw)
        if "series_descriptions" in raw:
            desc = dict(DEFAULT_DESCRIPTIONS)
            desc.update({k: tuple(v) for k, v in raw["series_descriptions"].items()})
            raw["series_descriptions"] = desc
        institutes.append(ScannerProfile(**raw))
    unknown_fraction = {k: 0.0 for k in UNKNOWN_KEYS}
    for k, v in (block.pop("unknown_fraction", None) or {}).items():
        if k not in UNKNOWN_KEYS:
            raise ConfigError(f"{source}: synthetic.unknown_fraction.{k} is not one of {UNKNOWN_KEYS}")
        unknown_fraction[k] = float(v)
    seed = block.pop("seed", None)
    seed = derive_seed(global_seed, cohort["name"]) if seed is None else int(seed)
    seg_source = cohort["segmentation_source"]
    block = _tuple_fields(SynthConfig, block)
    cfg = SynthConfig(
        cohort=cohort["name"],
        layout=layout,
        seed=seed,
        institutes=tuple(institutes),
        unknown_fraction=unknown_fraction,
        segmentation_source=seg_source,
        **{"n_patients": 10, **block},
    )
    if cfg.id_style not in ("tcga", "numeric", "brats"):
        raise ConfigError(f"{source}: synthetic.id_style must be tcga, numeric or brats")
    if cfg.clinical_table not in ("tsv", "xlsx"):
        raise ConfigError(f"{source}: synthetic.clinical_table must be tsv or xlsx")
    if cfg.n_patients < 1:
        raise ConfigError(f"{source}: synthetic.n_patients must be >= 1")
    return cfg
