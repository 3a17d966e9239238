from __future__ import annotations

import pytest

from glioma.errors import ConfigError
from glioma.preprocess.config import PreprocessConfig, preprocess_fingerprint


def test_defaults_are_the_papers():
    config = PreprocessConfig.from_mapping(None)
    assert config.resolution_mm == 1.0 and config.skull_strip == "hdbet"
    assert config.atlas_transform == "Affine" and config.clip_percentiles == (1.0, 99.0)


def test_from_mapping_with_qc_section():
    config = PreprocessConfig.from_mapping(
        {"resolution_mm": 3, "skull_strip": "atlas", "clip_percentiles": [2, 98], "qc": {"min_atlas_mask_dice": 0.8}}
    )
    assert config.qc.min_atlas_mask_dice == 0.8 and config.clip_percentiles == (2.0, 98.0)
    assert config.to_dict()["qc"]["min_atlas_mask_dice"] == 0.8


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"resolutoin_mm": 3}, "unknown key"),
        ({"qc": {"min_dice": 1}}, "preprocess.qc: unknown"),
        ({"skull_strip": "bet"}, "skull_strip"),
        ({"atlas_transform": "BSpline"}, "atlas_transform"),
        ({"resolution_mm": 20}, "resolution_mm"),
        ({"clip_percentiles": [99, 1]}, "clip_percentiles"),
        ({"skull_strip": "hdbet2"}, "hdbet2_weights"),
    ],
)
def test_bad_settings_name_the_key(values, fragment):
    with pytest.raises(ConfigError, match=fragment):
        PreprocessConfig.from_mapping(values)


def test_fingerprint_leaves_out_threads_and_fills_in_defaults():
    """What the preprocessing rule passes as its settings param: a thread count, a default
    written out, or 3 for 3.0 leave it as it is; a processing setting changes it."""
    base = preprocess_fingerprint({"preprocess": {"resolution_mm": 3, "threads": 2}})
    assert "threads" not in base
    assert preprocess_fingerprint({"preprocess": {"resolution_mm": 3.0, "threads": 1}}) == base
    written_out = {"resolution_mm": 3, "skull_strip": "hdbet", "n4_shrink": 6.0, "qc": {"max_anisotropy": 12}}
    assert preprocess_fingerprint({"preprocess": written_out}) == base
    assert preprocess_fingerprint({"preprocess": {"resolution_mm": 3, "n4_shrink": 4}}) != base
    assert preprocess_fingerprint({"preprocess": {"resolution_mm": 3, "qc": {"max_anisotropy": 10}}}) != base
    assert preprocess_fingerprint({}) == PreprocessConfig().to_dict()
    with pytest.raises(ConfigError, match="unknown key"):
        preprocess_fingerprint({"preprocess": {"resolutoin_mm": 3}})
