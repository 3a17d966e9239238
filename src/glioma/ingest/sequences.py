"""Identify T1 / T1c / T2 / FLAIR from DICOM headers and select one series per sequence.

Both are pure functions over :class:`glioma.io.dicom.SeriesInfo` (header metadata only).

Identification uses the SeriesDescription first (institutes name their series differently:
"AX T1 PRE", "T1 POST GAD", "AX T1 C+", "3D T1 MPRAGE POST", "T2 FLAIR AX", "T2 FSE", ...) and
falls back on the acquisition parameters (RepetitionTime, EchoTime, InversionTime) when the
description says nothing; contrast comes from ContrastBolusAgent or the description. Localizers,
diffusion, ADC/trace maps, perfusion, SWI and other derived series are never candidates.

Selection (the paper's rule): the series the segmentation was drawn on; else 3D over 2D, then the
highest resolution in the axial plane, then more slices, then the lowest series number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from glioma.io.dicom import SeriesInfo

_DISTRACTOR = re.compile(
    r"\b(LOC|LOCALI[SZ]ER|SCOUT|SURVEY|3[- ]?PLANE|TRI[- ]?PLANE|DWI|DIFF\w*|ADC|E?ADC|TRACE\w*|DTI|"
    r"TENSOR|FA|PERF\w*|DSC|DCE|ASL|PCASL|SWI|SWAN|MRA|TOF|ANGIO|SPECTRO\w*|CSI|SVS|MRS|CBV|CBF|"
    r"MTT|TTP|CALIBRATION|ASSET|SENSE[- ]?REF|REFORMAT\w*|MPR|MIP|SUB|SUBTRACTION|HEMO|BOLD|FMRI|"
    r"CINE|DT1|MASK\w*|SEG\w*|\w*CBV|\w*CBF|ADC\w*)\b|T2\*"
)
_DISTRACTOR_IMAGE_TYPES = {"LOCALIZER", "MULTIPLANAR", "ADC", "TRACEW", "DIFFUSION", "FA", "MIP",
                           "PROJECTION IMAGE", "SUBTRACTION", "PERFUSION", "EADC", "CALC_BVALUE"}
_FLAIR = re.compile(r"FLAIR|TIRM|DARK[- ]?FLUID|\bDF\b")
_T1 = re.compile(r"\bT1(?![0-9*])|MPRAGE|MP[- ]RAGE|\bSPGR|FSPGR|BRAVO|\bTFE\b|VIBE|\bFLASH\b")
_T2 = re.compile(r"\bT2(?![0-9*])|\bFSE\b|\bTSE\b|\bFRFSE\b|\bHASTE\b")
_POST = re.compile(
    r"POST|\+\s*C\b|\bC\s*\+|\+\s*GD|\bGD\b|GAD\w*|CONTRAST|\bCE\b|\bENH\w*|\bW/?\s?C\b|MULTIHANCE|"
    r"DOTAREM|GADAVIST|MAGNEVIST|PROHANCE|\bT1\+C|\bC\+"
)
_PRE = re.compile(r"\bPRE\b|T1PRE|PRE[- ]?CONTRAST|PRE[- ]?GAD|NON[- ]?CONTRAST|\bW/?O\b|WITHOUT|\bNATIVE?\b|\bPLAIN\b")
_POSTOP = re.compile(r"POST[- ]?OP|POSTOPERATIVE|POST[- ]?SURG|POST[- ]?RESECT|POST[- ]?TREAT|RESECTION CAVITY")
_NO_AGENT = {"", "NONE", "NO", "N/A", "NA", "0"}


def _upper(text: str) -> str:
    return " ".join(text.upper().replace("_", " ").split())


def is_postoperative_study(study_description: str) -> bool:
    """True if the study description says the imaging is post-operative."""
    return bool(_POSTOP.search(_upper(study_description)))


def has_contrast(info: SeriesInfo) -> bool:
    """Post-contrast if ContrastBolusAgent names an agent, else if the description says so."""
    if _upper(info.contrast_agent) not in _NO_AGENT:
        return True
    description = _upper(info.series_description)
    if _PRE.search(description):
        return False
    return bool(_POST.search(description))


def _weighting_from_parameters(info: SeriesInfo) -> str | None:
    tr, te, ti = info.repetition_time, info.echo_time, info.inversion_time
    if tr is None or te is None:
        return None
    scanning = _upper(info.scanning_sequence)
    if ti is not None and ti >= 1500 and tr >= 4000:
        return "flair"
    if te >= 60 and tr >= 2000 and (ti is None or ti == 0):
        return "t2"
    if te <= 30 and (tr <= 1000 or (ti is not None and 300 <= ti <= 1300) or "GR" in scanning and tr <= 3000):
        return "t1"
    return None


def classify_series(info: SeriesInfo) -> tuple[str | None, str]:
    """Return ``(sequence or None, why)``: one of t1, t1c, t2, flair, or None for other series."""
    description = _upper(info.series_description)
    if info.modality and info.modality.upper() != "MR":
        return None, f"modality {info.modality}"
    image_types = {t.strip() for t in info.image_type}
    bad = image_types & _DISTRACTOR_IMAGE_TYPES
    if bad:
        return None, f"image type {sorted(bad)}"
    if _DISTRACTOR.search(description):
        return None, f"description {info.series_description!r} is not a structural sequence"
    if not info.orientation:
        return None, "no single image orientation"
    if info.n_files < 3:
        return None, f"only {info.n_files} image(s)"
    is_flair, is_t1, is_t2 = bool(_FLAIR.search(description)), bool(_T1.search(description)), bool(_T2.search(description))
    weighting: str | None
    if is_flair and is_t1 and not is_t2:
        weighting, why = "t1", "description (T1 FLAIR)"
    elif is_flair:
        weighting, why = "flair", "description"
    elif is_t1 and not is_t2:
        weighting, why = "t1", "description"
    elif is_t2 and not is_t1:
        weighting, why = "t2", "description"
    else:
        weighting, why = _weighting_from_parameters(info), "TR/TE/TI"
    if weighting is None:
        return None, "weighting not recognised from description or TR/TE/TI"
    if weighting == "t1" and has_contrast(info):
        return "t1c", f"{why}; contrast"
    return weighting, why


def selection_key(info: SeriesInfo) -> tuple:
    """Sort key of the paper's rule: 3D first, then finest axial resolution, more slices, number."""
    sx, sy = info.axial_spacing()
    area = round(sx * sy, 3)
    number = info.series_number if info.series_number is not None else 10**9
    return (0 if info.is_3d else 1, area, -info.n_files, number)


def select_series(candidates: Sequence[SeriesInfo], *, segmentation_series_uid: str | None = None) -> SeriesInfo:
    """Pick one series among candidates of the same sequence.

    The series the segmentation was drawn on wins; else the smallest :func:`selection_key`.
    """
    if not candidates:
        raise ValueError("no candidate series")
    if segmentation_series_uid is not None:
        for info in candidates:
            if info.series_uid == segmentation_series_uid:
                return info
    return min(candidates, key=selection_key)


def rank_series(candidates: Sequence[SeriesInfo]) -> list[SeriesInfo]:
    """Candidates in the order of preference of :func:`select_series` (without segmentation)."""
    return sorted(candidates, key=selection_key)
