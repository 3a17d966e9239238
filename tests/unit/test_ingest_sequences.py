"""Sequence identification from headers and the paper's series-selection rule (pure functions)."""

from __future__ import annotations

import pytest

from glioma.ingest.sequences import (
    classify_series,
    is_postoperative_study,
    select_series,
    selection_key,
)
from glioma.io.dicom import SeriesInfo

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def series(description="", *, uid=None, tr=None, te=None, ti=None, agent="", acq="2D", spacing=(1.0, 1.0),
           thickness=5.0, orientation=AXIAL, n=20, number=1, image_type=("ORIGINAL", "PRIMARY")) -> SeriesInfo:
    return SeriesInfo(
        series_uid=uid or f"uid-{description}-{number}", study_uid="study", series_description=description,
        series_number=number, modality="MR", image_type=image_type, rows=256, columns=256,
        pixel_spacing=spacing, slice_thickness=thickness, orientation=orientation,
        positions=[(0.0, 0.0, float(k) * thickness) for k in range(n)] if orientation == AXIAL else
        [(float(k) * thickness, 0.0, 0.0) for k in range(n)],
        acquisition_type=acq, repetition_time=tr, echo_time=te, inversion_time=ti, contrast_agent=agent,
        files=[f"f{k}" for k in range(n)],  # type: ignore[misc]
    )


@pytest.mark.parametrize(
    ("description", "agent", "expected"),
    [
        ("AX T1 PRE", "", "t1"),
        ("SAG T1", "", "t1"),
        ("T1 POST GAD", "", "t1c"),
        ("AX T1 C+", "", "t1c"),
        ("3D T1 MPRAGE POST", "", "t1c"),
        ("AX T1", "Gadavist 7ml", "t1c"),  # contrast from ContrastBolusAgent only
        ("AX FLAIR", "", "flair"),
        ("T2 FLAIR AX", "", "flair"),
        ("T2 FSE", "", "t2"),
        ("AX T2", "", "t2"),
        ("Ax T1 FLAIR", "", "t1"),  # GE's T1 FLAIR is T1-weighted
        ("3-PLANE LOC", "", None),
        ("AX DWI 1000", "", None),
        ("ADC map", "", None),
        ("Apparent Diffusion Coefficient (mm2/s)", "", None),
        ("AX T2* GRE", "", None),
        ("T1prereg", "", "t1"),  # Brain-Tumor-Progression's terse names
        ("T1post", "", "t1c"),
        ("FLAIRreg", "", "flair"),
        ("T2reg", "", "t2"),
        ("dT1", "", None),
        ("sRCBV", "", None),
        ("MaskTumor", "", None),
    ],
)
def test_classify_by_description(description, agent, expected):
    assert classify_series(series(description, agent=agent, tr=500, te=10))[0] == expected


@pytest.mark.parametrize(
    ("tr", "te", "ti", "expected"),
    [(550, 12, None, "t1"), (4000, 100, None, "t2"), (9000, 120, 2500, "flair"), (2300, 3, 900, "t1"),
     (3000, 40, None, None)],
)
def test_classify_by_parameters_when_description_is_silent(tr, te, ti, expected):
    assert classify_series(series("SEQ 7", tr=tr, te=te, ti=ti))[0] == expected


def test_derived_and_localizer_image_types_are_never_candidates():
    assert classify_series(series("AX T1", image_type=("DERIVED", "PRIMARY", "ADC")))[0] is None
    assert classify_series(series("AX T1", orientation=()))[0] is None  # multi-planar localizer
    assert classify_series(series("AX T1", n=1))[0] is None


def test_postoperative_study_descriptions():
    assert is_postoperative_study("MRI BRAIN POST-OP")
    assert is_postoperative_study("mr brain postoperative")
    assert not is_postoperative_study("MRI BRAIN W/WO CONTRAST")


def test_selection_prefers_3d_then_axial_resolution():
    low = series("AX T1 C+", spacing=(1.0, 1.0), number=5)
    high = series("AX T1 C+ HIRES", spacing=(0.5, 0.5), number=6)
    sag = series("SAG T1 POST", spacing=(0.4, 0.4), orientation=SAGITTAL, number=7)  # coarse L-R
    three_d = series("3D T1 MPRAGE POST", spacing=(1.0, 1.0), thickness=1.0, acq="3D", number=8)
    assert select_series([low, high, sag]) is high
    assert select_series([low, high, sag, three_d]) is three_d
    assert selection_key(sag) > selection_key(high)


def test_selection_prefers_the_segmentation_series():
    low = series("AX T1 C+", spacing=(1.0, 1.0), uid="low")
    high = series("AX T1 C+ HIRES", spacing=(0.5, 0.5), uid="high")
    assert select_series([low, high], segmentation_series_uid="low") is low
    assert select_series([low, high], segmentation_series_uid="absent") is high


def test_selection_ties_are_deterministic():
    a, b = series("AX T2", number=3), series("AX T2", number=9)
    assert select_series([b, a]) is a
    with pytest.raises(ValueError):
        select_series([])
