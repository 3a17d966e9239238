from __future__ import annotations

import pytest

from glioma.errors import ConfigError
from glioma.preprocess.config import PreprocessConfig


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
