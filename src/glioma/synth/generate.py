"""Generate one synthetic cohort: raw images, segmentations, clinical tables, oracle, marker."""

from __future__ import annotations

import datetime as dt
import logging
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from tqdm import tqdm

from glioma.io.atomic import write_json, write_table, write_text
from glioma.synth import GENERATOR_VERSION
from glioma.synth.acquire import bias_field, ghosting, rician, to_stored
from glioma.synth.anatomy import Anatomy, load_anatomy
from glioma.synth.config import ScannerProfile, SynthConfig
from glioma.synth.dicom import Stack, dcm2niix_grid, safe_folder, uid, write_series
from glioma.synth.geometry import (
    Grid,
    PatientWarp,
    make_grid,
    make_warp,
    map_grid,
    random_tilt,
    sample,
    sample_box,
)
from glioma.synth.labels import LATENT_NAMES, PatientLabels, label_posterior, sample_patient
from glioma.synth.nifti import write_nifti
from glioma.synth.oracle import oracle_aucs
from glioma.synth.tables import write_brats_tables, write_tcia_tables
from glioma.synth.tumor import Tumor, make_tumor

log = logging.getLogger(__name__)

MAIN_SEQUENCES = ("t1", "t1c", "t2", "flair")
PHI_FIELDS = (
    "PatientName",
    "PatientBirthDate",
    "OtherPatientIDs",
    "PatientAddress",
    "InstitutionAddress",
    "ReferringPhysicianName",
)
BRATS_SUFFIX = {"t1": "t1", "t1c": "t1ce", "t2": "t2", "flair": "flair"}
BRATS_SHAPE = (240, 240, 155)

# Sequence parameters: scanning sequence, variant, name, TR, TE, TI (ranges in ms)
SEQ_PARAMS: dict[str, dict[str, Any]] = {
    "t1": {"ScanningSequence": "SE", "SequenceVariant": "SK\\SP", "SequenceName": "*se2d1",
           "TR": (450, 700), "TE": (8, 15)},
    "t1_3d": {"ScanningSequence": "GR\\IR", "SequenceVariant": "SK\\SP\\MP", "SequenceName": "*tfl3d1_16ns",
              "TR": (1800, 2300), "TE": (2.5, 4.0), "TI": (900, 1100)},
    "t2": {"ScanningSequence": "SE", "SequenceVariant": "SK\\SP\\OSP", "SequenceName": "*tse2d1_15",
           "TR": (3000, 5500), "TE": (85, 110)},
    "flair": {"ScanningSequence": "SE\\IR", "SequenceVariant": "SK\\SP\\MP\\OSP", "SequenceName": "*tir2d1_16",
              "TR": (8000, 11000), "TE": (110, 140), "TI": (2200, 2600)},
    "dwi": {"ScanningSequence": "EP", "SequenceVariant": "SK\\SP", "SequenceName": "*ep_b1000t",
            "TR": (4000, 7000), "TE": (70, 100)},
    "localizer": {"ScanningSequence": "GR", "SequenceVariant": "SP", "SequenceName": "*fl2d1",
                  "TR": (7, 9), "TE": (3, 5)},
}
_SYLLABLES = ("ka", "zor", "vel", "mi", "dra", "quo", "tan", "rix", "bel", "ov", "yun", "pha", "lek", "sul")


@dataclass
class SeriesPlan:
    role: str  # t1 t1c t2 flair t1c_lowres localizer dwi adc
    contrast: str
    description: str
    grids: list[Grid]
    params: dict[str, Any]
    acquisition: str  # 2D / 3D
    skip_instance: int | None = None
    extra: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PatientPlan:
    index: int
    subject: str
    institute: ScannerProfile
    labels: PatientLabels
    postop: bool
    missing: str  # sequence left out, or ""
    segmentation: str  # manual / automatic / none
    seg_reference: str  # sequence whose grid the segmentation is on, or ""
    hidden: dict[str, bool]
    phi: dict[str, str]
    resection: str


def _rng(seed: int, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, index, stream])


def _fake_name(rng: np.random.Generator, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES, size=parts)).upper() + rng.choice(list(string.ascii_uppercase))


def _subject_id(cfg: SynthConfig, inst: ScannerProfile, index: int) -> str:
    if cfg.id_style == "numeric":
        return f"{index + 1:04d}"
    if cfg.id_style == "brats":
        return f"BraTS19_{inst.code}_{index + 1:03d}_1"
    return f"{cfg.id_prefix}-{inst.code}-{index + 1:04d}"


def plan_patient(cfg: SynthConfig, index: int) -> PatientPlan:
    rng = _rng(cfg.seed, index, 0)
    labels = sample_patient(rng, cfg.class_prior)
    weights = np.asarray([i.weight for i in cfg.institutes], dtype=float)
    inst = cfg.institutes[int(rng.choice(len(weights), p=weights / weights.sum()))]
    postop = cfg.layout == "tcia_dicom" and rng.random() < cfg.fraction_postop
    missing = str(rng.choice(MAIN_SEQUENCES)) if rng.random() < cfg.fraction_missing_sequence else ""
    hidden = {k: bool(rng.random() < f) for k, f in cfg.unknown_fraction.items()}
    if hidden["idh"]:  # 1p/19q is never known where IDH is not
        hidden["codeletion"] = True
    segmentation, seg_reference = "none", ""
    if rng.random() >= cfg.fraction_no_segmentation:
        if cfg.layout == "brats_nifti":
            segmentation, seg_reference = cfg.segmentation_source, "t1c"
        else:
            names = list(cfg.seg_reference)
            p = np.asarray([cfg.seg_reference[n] for n in names], dtype=float)
            choice = str(rng.choice(names, p=p / p.sum()))
            options = [choice] + [s for s in ("t1c", "flair", "t2", "t1") if s != choice]
            options = [s for s in options if s != missing]
            segmentation, seg_reference = cfg.segmentation_source, options[0]
    birth_year = int(1995 - labels.age - rng.integers(0, 10))
    birth = dt.date(min(birth_year, 1989), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    phi = {
        "PatientName": f"{_fake_name(rng, 3)}^{_fake_name(rng, 2)}",
        "PatientBirthDate": birth.strftime("%Y%m%d"),
        "OtherPatientIDs": f"MRN{rng.integers(10**7, 10**8)}Q",
        "PatientAddress": f"{rng.integers(10, 999)} {_fake_name(rng, 2).title()} Lane",
        "InstitutionAddress": f"{rng.integers(10, 999)} {_fake_name(rng, 3).title()} Road",
        "ReferringPhysicianName": f"DR{_fake_name(rng, 2)}^{_fake_name(rng, 2)}",
    }
    resection = str(rng.choice(["GTR", "STR", "NA"], p=[0.5, 0.3, 0.2]))
    return PatientPlan(
        index=index,
        subject=_subject_id(cfg, inst, index),
        institute=inst,
        labels=labels,
        postop=postop,
        missing=missing,
        segmentation=segmentation,
        seg_reference=seg_reference,
        hidden=hidden,
        phi=phi,
        resection=resection,
    )


def patient_geometry(cfg: SynthConfig, plan: PatientPlan, anat: Anatomy) -> tuple[PatientWarp, np.ndarray, Tumor]:
    """The patient's pose and elastic warp (patient world -> template voxels, with the tumour's
    mass effect), head centre (RAS mm) and tumour, exactly as its images are drawn: the same
    seeds give the same geometry without rendering anything (used to compare preprocessed
    outputs with the exact tumour)."""
    rng = _rng(cfg.seed, plan.index, 1)
    if cfg.layout == "brats_nifti":
        # co-registered to an atlas: only a small residual pose, the anatomy still differs (elastic)
        warp, center = make_warp(rng, anat.affine, anat.shape, max_rotation_deg=3.0,
                                 scale_range=(0.95, 1.05), translation_mm=3.0)
        tumor = make_tumor(anat, plan.labels.latents, rng, postop=False)
    else:
        warp, center = make_warp(rng, anat.affine, anat.shape)
        tumor = make_tumor(anat, plan.labels.latents, rng, postop=plan.postop)
    warp.me_center = tumor.center_vox
    warp.me_strength = float(np.clip(0.12 + 0.08 * (plan.labels.latents["log_volume"] - 3.0), 0.04, 0.3))
    warp.me_scale = 1.5 * tumor.extent_mm / anat.resolution_mm
    return warp, center, tumor


def phi_canaries(plan: PatientPlan) -> list[str]:
    """Every fake identifying string of the patient (full values and distinctive parts)."""
    out = []
    for value in plan.phi.values():
        out.append(value)
        out.extend(p for p in value.replace("^", " ").split() if len(p) >= 6 and not p.isdigit())
    return out


# --- TCIA-like series ---------------------------------------------------------------------------


def _pick_description(inst: ScannerProfile, key: str, rng: np.random.Generator) -> str:
    options = inst.series_descriptions.get(key) or (key.upper(),)
    return str(options[int(rng.integers(len(options)))])


def _plane_from_description(desc: str, default: str) -> str:
    tokens = desc.upper().replace("_", " ").split()
    for token in tokens:
        for key, plane in (("AX", "axial"), ("TRA", "axial"), ("SAG", "sagittal"), ("COR", "coronal")):
            if token.startswith(key):
                return plane
    return default


def _choice_weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=float)
    return str(rng.choice(names, p=p / p.sum()))


def _grid_2d(inst: ScannerProfile, rng: np.random.Generator, plane: str, center: np.ndarray,
             pixel: float | None = None, thickness: float | None = None) -> Grid:
    pixel = float(rng.uniform(*inst.in_plane_mm)) if pixel is None else pixel
    thickness = float(rng.uniform(*inst.slice_thickness_mm)) if thickness is None else thickness
    spacing = thickness + float(rng.uniform(*inst.slice_gap_mm))
    fov = float(rng.uniform(*inst.fov_mm))
    cols = max(16, int(round(fov / pixel / 8)) * 8)
    rows = max(16, int(round(cols * rng.choice([1.0, 1.0, 0.875, 0.75]) / 8)) * 8)
    coverage = {"axial": (140, 170), "sagittal": (140, 165), "coronal": (150, 175)}[plane]
    n_slices = max(3, int(np.ceil(rng.uniform(*coverage) / spacing)))
    tilt = random_tilt(rng, inst.oblique_deg)
    offset = rng.normal(0, 4, 3)
    return make_grid(plane, (pixel, pixel), (rows, cols), n_slices, spacing, thickness, center + offset, tilt)


def _grid_3d(inst: ScannerProfile, rng: np.random.Generator, center: np.ndarray) -> Grid:
    iso = float(rng.uniform(*inst.thickness_3d_mm))
    cols = max(16, int(round(256 / iso / 8)) * 8)
    n_slices = int(np.ceil(170 / iso))
    tilt = random_tilt(rng, inst.oblique_deg / 2)
    return make_grid("sagittal", (iso, iso), (cols, cols), n_slices, iso, iso, center + rng.normal(0, 4, 3), tilt)


def plan_series(plan: PatientPlan, rng: np.random.Generator, center: np.ndarray, distractors: bool) -> list[SeriesPlan]:
    inst = plan.institute
    series: list[SeriesPlan] = []
    three_d = rng.random() < inst.p_3d
    for seq in MAIN_SEQUENCES:
        if seq == plan.missing:
            continue
        if seq in ("t1", "t1c") and three_d:
            desc = _pick_description(inst, f"{seq}_3d", rng)
            grid = _grid_3d(inst, rng, center)
            params, acq = SEQ_PARAMS["t1_3d"], "3D"
        else:
            desc = _pick_description(inst, seq, rng)
            plane = _plane_from_description(desc, _choice_weighted(rng, inst.planes))
            grid = _grid_2d(inst, rng, plane, center)
            params, acq = SEQ_PARAMS["t1" if seq == "t1c" else seq], "2D"
        series.append(SeriesPlan(seq, seq, desc, [grid], params, acq))
    if distractors:
        loc = [_grid_2d(inst, rng, p, center, pixel=1.2, thickness=8.0) for p in ("axial", "sagittal", "coronal")]
        loc = [Grid((g.shape[0], g.shape[1], 1), g.affine, g.thickness) for g in loc]
        series.insert(0, SeriesPlan("localizer", "t1", _pick_description(inst, "localizer", rng), loc,
                                    SEQ_PARAMS["localizer"], "2D"))
        dwi_grid = _grid_2d(inst, rng, "axial", center, pixel=float(rng.uniform(1.7, 2.0)), thickness=5.0)
        series.append(SeriesPlan("dwi", "t2", _pick_description(inst, "dwi", rng), [dwi_grid, dwi_grid],
                                 SEQ_PARAMS["dwi"], "2D", extra=[{"DiffusionBValue": 0}, {"DiffusionBValue": 1000}]))
        series.append(SeriesPlan("adc", "t2", _pick_description(inst, "adc", rng), [dwi_grid],
                                 SEQ_PARAMS["dwi"], "2D"))
        if plan.missing != "t1c":
            low = _grid_2d(inst, rng, "coronal", center, pixel=float(rng.uniform(1.0, 1.3)),
                           thickness=float(rng.uniform(5.0, 6.5)))
            series.append(SeriesPlan("t1c_lowres", "t1c", _pick_description(inst, "t1c_lowres", rng),
                                     [low], SEQ_PARAMS["t1"], "2D"))
    for s in series:
        if (
            s.role in MAIN_SEQUENCES
            and s.role != plan.seg_reference
            and s.acquisition == "2D"
            and rng.random() < inst.p_missing_slice
        ):
            n = s.grids[0].shape[2]
            s.skip_instance = int(rng.integers(n // 3, max(n // 3 + 1, 2 * n // 3)))
    return series


def _render(anat: Anatomy, tumor: Tumor, mapping, contrast: str, role: str) -> np.ndarray:  # noqa: ANN001
    img = sample(anat.contrasts[contrast], mapping)
    if role == "dwi_b1000":
        img = 0.45 * sample(anat.contrasts["flair"], mapping) + 0.1 * img
    if role == "adc":
        img = 0.3 + 0.6 * img
    return img


def _acquire(img: np.ndarray, mapping, inst: ScannerProfile, rng: np.random.Generator,  # noqa: ANN001
             center: np.ndarray, bits: int = 12, bias: np.ndarray | None = None) -> np.ndarray:
    img = img * (bias_field(mapping, rng, inst.bias_strength, center) if bias is None else bias)
    img = rician(img, inst.noise * float(rng.uniform(0.7, 1.3)), rng)
    if bias is None and rng.random() < inst.p_ghosting:
        img = ghosting(img, rng)
    scale = float(rng.uniform(*inst.intensity_scale))
    offset = float(rng.uniform(*inst.intensity_offset))
    return to_stored(img, scale, offset, inst.rescale_slope, inst.rescale_intercept, bits)


#: how far (mm) an ``automatic`` segmentation's boundary lies from the truth's
AUTOMATIC_SHIFT_MM = 2.0


def automatic_segmentation(seg: np.ndarray, spacing: Sequence[float], rng: np.random.Generator,
                           shift_mm: float = AUTOMATIC_SHIFT_MM) -> np.ndarray:
    """An automatic segmentation made from the truth ``seg`` (bool, on a grid of voxel ``spacing``
    mm): dilated or eroded (one draw of ``rng``, even odds) by ``shift_mm`` of physical distance.

    The distance is in mm, so a thick-slice grid keeps its slices and the segmentation agrees with
    the truth as an automatic one does with a manual one (Dice ~0.85-0.95). A one-voxel 3-D
    dilation or erosion (generator 1.0) moved the boundary by a whole 4-6 mm slice at both ends:
    Dice 0.55 with the truth on the demo's TCIA-like cohort. An erosion that would leave nothing
    returns the truth."""
    sampling = tuple(float(s) for s in spacing)
    if rng.random() < 0.5:
        return ndi.distance_transform_edt(~seg, sampling=sampling) <= shift_mm
    eroded = ndi.distance_transform_edt(seg, sampling=sampling) > shift_mm
    return eroded if eroded.any() else seg


def _study_date(cfg: SynthConfig, plan: PatientPlan) -> dt.date:
    rng = _rng(cfg.seed, plan.index, 3)
    return dt.date(1995, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 18)))


def write_tcia_patient(cfg: SynthConfig, plan: PatientPlan, anat: Anatomy, out: Path) -> dict[str, Any]:
    warp, center, tumor = patient_geometry(cfg, plan, anat)
    inst = plan.institute
    arng = _rng(cfg.seed, plan.index, 2)
    series = plan_series(plan, arng, center, cfg.distractors)
    date = _study_date(cfg, plan)
    study_desc = "MRI BRAIN POST-OP" if plan.postop else inst.study_description
    study_folder = f"{date:%m-%d-%Y}-{safe_folder(study_desc)}-{int(arng.integers(10000, 99999)):05d}"
    study_uid = uid(cfg.seed, plan.subject, "study")
    common = {
        "PatientID": plan.subject,
        "PatientSex": plan.labels.sex,
        "PatientAge": f"{int(plan.labels.age):03d}Y",
        "StudyDate": f"{date:%Y%m%d}",
        "SeriesDate": f"{date:%Y%m%d}",
        "StudyTime": f"{int(arng.integers(7, 19)):02d}{int(arng.integers(0, 60)):02d}00",
        "StudyDescription": study_desc,
        "StudyInstanceUID": study_uid,
        "StudyID": f"{int(arng.integers(1000, 9999))}",
        "AccessionNumber": "",
        "Manufacturer": inst.manufacturer,
        "ManufacturerModelName": inst.model,
        "InstitutionName": inst.name,
        "MagneticFieldStrength": f"{inst.field_strength}",
        "BodyPartExamined": "BRAIN",
        "PatientPosition": "HFS",
        "FrameOfReferenceUID": uid(cfg.seed, plan.subject, "for"),
        "RescaleSlope": f"{inst.rescale_slope}",
        "RescaleIntercept": f"{inst.rescale_intercept}",
        "RescaleType": "US",
        **plan.phi,
    }
    seg_grid: Grid | None = None
    n_files = 0
    with tumor.painted(anat):
        for number, s in enumerate(series, start=1):
            stacks = []
            for gi, grid in enumerate(s.grids):
                mapping = map_grid(grid, warp, anat.head)
                role = "dwi_b1000" if (s.role == "dwi" and gi == 1) else s.role
                img = _render(anat, tumor, mapping, s.contrast, role)
                extra = s.extra[gi] if gi < len(s.extra) else None
                stacks.append(Stack(grid, _acquire(img, mapping, inst, arng, center), extra))
                if s.role == plan.seg_reference and plan.segmentation != "none":
                    seg_grid = grid
                    seg = sample_box(tumor.whole, tumor.lo, mapping) > 0.5
            p = s.params
            header = dict(common)
            header.update(
                {
                    "SeriesDescription": s.description,
                    "ProtocolName": s.description,
                    "SeriesNumber": number,
                    "SeriesInstanceUID": uid(cfg.seed, plan.subject, "series", number),
                    "ScanningSequence": p["ScanningSequence"],
                    "SequenceVariant": p["SequenceVariant"],
                    "SequenceName": p["SequenceName"],
                    "MRAcquisitionType": s.acquisition,
                    "RepetitionTime": f"{arng.uniform(*p['TR']):.1f}",
                    "EchoTime": f"{arng.uniform(*p['TE']):.2f}",
                    "ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"] if s.role == "adc" else
                    ["ORIGINAL", "PRIMARY", "LOCALIZER" if s.role == "localizer" else "M", "NONE"],
                }
            )
            if "TI" in p:
                header["InversionTime"] = f"{arng.uniform(*p['TI']):.1f}"
            if s.contrast == "t1c" and s.role in ("t1c", "t1c_lowres"):
                header["ContrastBolusAgent"] = inst.contrast_agent
            series_folder = f"{number}.000000-{safe_folder(s.description)}-{int(arng.integers(10000, 99999)):05d}"
            folder = out / plan.subject / study_folder / series_folder
            n_files += write_series(folder, stacks, header, f"{cfg.seed}-{plan.subject}-{number}", s.skip_instance)
    if seg_grid is not None:
        if plan.segmentation == "automatic":
            seg = automatic_segmentation(seg, seg_grid.spacing, _rng(cfg.seed, plan.index, 4))
        affine, flip_rows = dcm2niix_grid(seg_grid)
        data = seg.astype(np.uint8)
        if flip_rows:
            data = data[:, ::-1, :]
        write_nifti(out / "segmentations" / f"{plan.subject}.nii.gz", np.ascontiguousarray(data), affine)
    return {"n_files": n_files, "tumor": tumor, "center": center}


# --- BraTS-like NIfTI ---------------------------------------------------------------------------


def brats_grid() -> Grid:
    """240 x 240 x 155 at 1 mm, BraTS-style affine (LPS-ordered axes), centred on the brain."""
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    affine[:3, 3] = [119.5, -18.0 + 119.5, 15.0 - 77.0]
    return Grid(BRATS_SHAPE, affine, 1.0)


def write_brats_patient(cfg: SynthConfig, plan: PatientPlan, anat: Anatomy, out: Path) -> dict[str, Any]:
    warp, center, tumor = patient_geometry(cfg, plan, anat)
    arng = _rng(cfg.seed, plan.index, 2)
    grid = brats_grid()
    mapping = map_grid(grid, warp, anat.brain)
    whole = sample_box(tumor.whole, tumor.lo, mapping)
    brain = (sample(anat.brain, mapping, thick_average=False) > 0.5) | (whole > 0.5)
    subject_dir = out / plan.subject
    bias = bias_field(mapping, arng, plan.institute.bias_strength * 0.5, center)
    with tumor.painted(anat):
        for seq in MAIN_SEQUENCES:
            img = sample(anat.contrasts[seq], mapping, thick_average=False)
            if seq == plan.missing:
                continue
            stored = np.zeros(grid.shape, dtype=np.int16)
            stored[brain] = _acquire(img[brain], None, plan.institute, arng, center, bits=15, bias=bias[brain])
            write_nifti(subject_dir / f"{plan.subject}_{BRATS_SUFFIX[seq]}.nii.gz", stored, grid.affine)
    if plan.segmentation != "none":
        lab = sample_box(tumor.brats_labels().astype(np.float32), tumor.lo, mapping, order=0)
        lab = np.where(brain, lab, 0).astype(np.uint8)
        write_nifti(subject_dir / f"{plan.subject}_seg.nii.gz", lab, grid.affine)
    return {"n_files": 5, "tumor": tumor, "center": center}


# --- cohort -------------------------------------------------------------------------------------


def _oracle_row(plan: PatientPlan, tumor: Tumor, anat: Anatomy) -> dict[str, Any]:
    lab = plan.labels
    world = anat.affine[:3, :3] @ tumor.center_vox + anat.affine[:3, 3]
    row: dict[str, Any] = {
        "subject": plan.subject,
        "institute": plan.institute.name,
        "subtype": lab.subtype,
        "idh": lab.idh,
        "codeletion": lab.codeletion,
        "grade": lab.grade,
        "age": lab.age,
        "sex": lab.sex,
        "os_time_days": lab.os_time_days,
        "os_event": lab.os_event,
        "postop": int(plan.postop),
        "missing_sequence": plan.missing,
        "segmentation": plan.segmentation,
        "seg_reference": plan.seg_reference,
    }
    for name in LATENT_NAMES:
        row[f"latent_{name}"] = round(lab.latents[name], 6)
    row.update(
        {
            "tumor_center_mni_x": round(float(world[0]), 2),
            "tumor_center_mni_y": round(float(world[1]), 2),
            "tumor_center_mni_z": round(float(world[2]), 2),
            "tumor_core_radius_mm": round(tumor.radius_mm, 3),
            "tumor_extent_mm": round(tumor.extent_mm, 3),
        }
    )
    row.update({k: round(v, 6) for k, v in label_posterior(lab.latents).items()})
    return row


def generate_cohort(cfg: SynthConfig, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Write the whole raw download of ``cfg`` under ``out``; ``cohort.json`` is written last."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / "cohort.json"
    if marker.exists():
        marker.unlink()  # a rerun invalidates the old completion marker first
    anat = load_anatomy(cfg.resolution_mm)
    plans = [plan_patient(cfg, i) for i in range(cfg.n_patients)]
    if len({p.subject for p in plans}) != len(plans):
        raise ValueError(f"cohort {cfg.cohort}: duplicate subject IDs")
    oracle_rows, canaries, n_files = [], [], 0
    writer = write_tcia_patient if cfg.layout == "tcia_dicom" else write_brats_patient
    for plan in tqdm(plans, desc=f"synth {cfg.cohort}", unit="patient", disable=not progress):
        result = writer(cfg, plan, anat, out)
        n_files += result["n_files"]
        oracle_rows.append(_oracle_row(plan, result["tumor"], anat))
        if cfg.layout == "tcia_dicom":
            canaries.extend(phi_canaries(plan))
    records = [
        {
            "subject": p.subject,
            "institute": p.institute.name,
            "idh": p.labels.idh,
            "codeletion": p.labels.codeletion,
            "grade": p.labels.grade,
            "age": p.labels.age,
            "sex": p.labels.sex,
            "os_time_days": p.labels.os_time_days,
            "os_event": p.labels.os_event,
            "postop": p.postop,
            "hidden": p.hidden,
            "resection": p.resection,
        }
        for p in plans
    ]
    if cfg.layout == "tcia_dicom":
        tables = write_tcia_tables(out, records, cfg.clinical_table)
    else:
        tables = write_brats_tables(out, records)
    oracle = pd.DataFrame(oracle_rows)
    write_table(out / "oracle.tsv", oracle)
    aucs = oracle_aucs(oracle)
    write_json(out / "oracle_auc.json", aucs)
    write_text(out / "phi_canaries.txt", "".join(f"{c}\n" for c in dict.fromkeys(canaries)))
    summary = {
        "cohort": cfg.cohort,
        "layout": cfg.layout,
        "n_patients": cfg.n_patients,
        "seed": cfg.seed,
        "generator_version": GENERATOR_VERSION,
        "resolution_mm": cfg.resolution_mm,
        "institutes": [i.name for i in cfg.institutes],
        "patients_per_institute": oracle["institute"].value_counts().sort_index().to_dict(),
        "n_postop": int(oracle["postop"].sum()),
        "n_missing_sequence": int((oracle["missing_sequence"] != "").sum()),
        "n_with_segmentation": int((oracle["segmentation"] != "none").sum()),
        "clinical_tables": [str(t.relative_to(out)) for t in tables],
        "oracle_auc": aucs,
        "n_image_files": n_files,
    }
    write_json(marker, summary)
    log.info("cohort %s: %d patients written to %s; oracle AUCs %s", cfg.cohort, cfg.n_patients, out, aucs)
    return summary
