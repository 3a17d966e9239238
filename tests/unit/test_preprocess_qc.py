from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from glioma.preprocess.qc import QC_COLUMNS, aggregate_qc, correlation, dice, qc_figure
from glioma.preprocess.skullstrip import largest_component


def test_dice_and_correlation():
    a = np.zeros((10, 10, 10))
    a[2:6] = 1
    b = np.zeros_like(a)
    b[4:8] = 1
    assert dice(a, a) == 1.0 and dice(a, b) == pytest.approx(0.5)
    assert dice(np.zeros(3), np.zeros(3)) == 1.0
    x = np.random.default_rng(0).random((10, 10, 10))
    assert correlation(x, 2 * x + 1, np.ones_like(x)) == pytest.approx(1.0)
    assert np.isnan(correlation(x, x, np.zeros_like(x)))


def test_largest_component_fills_holes():
    mask = np.zeros((20, 20, 20), np.uint8)
    mask[2:12, 2:12, 2:12] = 1
    mask[6, 6, 6] = 0  # a hole
    mask[16:18, 16:18, 16:18] = 1  # a small island
    out = largest_component(mask)
    assert out[6, 6, 6] == 1 and out[17, 17, 17] == 0 and out.sum() == 1000


def test_qc_figure_and_aggregate(tmp_path):
    vols = {s: np.random.default_rng(1).normal(size=(20, 24, 18)).astype(np.float32) for s in ("t1", "t1c", "t2", "flair")}
    mask = np.zeros((20, 24, 18))
    mask[4:16, 4:20, 3:15] = 1
    tumor = np.zeros_like(mask)
    tumor[8:11, 9:12, 7:10] = 1
    png = qc_figure(vols, mask, tumor, tmp_path / "qc.png", title="x")
    assert png.read_bytes()[:4] == b"\x89PNG"
    ok = {"subject": "0001", "status": "ok", "reason": "", "skull_strip": "hdbet", "seconds": 12.0,
          "metrics": {"brain_volume_ml": 1500.0, "atlas_correlation": 0.45, "atlas_mask_dice": 0.96}}
    bad = {"subject": "0002", "status": "excluded", "reason": "patient '0002': constant image", "metrics": {}}
    (tmp_path / "0001").mkdir()
    (tmp_path / "0002").mkdir()
    (tmp_path / "0001" / "qc.json").write_text(json.dumps(ok))
    (tmp_path / "0002" / "qc.json").write_text(json.dumps(bad))
    table = aggregate_qc([tmp_path / "0001" / "qc.json", tmp_path / "0002"], tmp_path / "qc.tsv",
                         tmp_path / "qc_overview.png", cohort="demo")
    frame = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
    assert tuple(frame.columns) == QC_COLUMNS
    assert frame["subject"].tolist() == ["0001", "0002"]  # IDs stay strings
    assert frame["status"].tolist() == ["ok", "excluded"] and "constant" in frame["reason"][1]
    assert float(frame["atlas_mask_dice"][0]) == 0.96 and frame["atlas_mask_dice"][1] == ""
    assert (tmp_path / "qc_overview.png").stat().st_size > 1000


def test_stripped_input_is_recognised_and_whole_heads_are_not():
    import ants

    from glioma.preprocess.skullstrip import stripped_input_mask

    shape = (60, 70, 60)
    grid = np.indices(shape).astype(float)
    centre = (np.asarray(shape) / 2)[:, None, None, None]
    r = np.sqrt((((grid - centre) / np.array([22, 27, 22])[:, None, None, None]) ** 2).sum(0))
    brain = np.where(r < 1, 100 + 10 * np.random.default_rng(0).random(shape), 0).astype(np.float32)
    image = ants.from_numpy(brain, spacing=(2.0, 2.0, 2.0))  # ~ 440 ml ellipsoid
    mask = stripped_input_mask(image, min_ml=300, max_ml=2100)
    assert mask is not None and dice(mask.numpy(), brain > 0) > 0.99
    head = brain + 20 * np.random.default_rng(1).random(shape).astype(np.float32)  # noisy background
    assert stripped_input_mask(ants.from_numpy(head, spacing=(2.0, 2.0, 2.0)), min_ml=300, max_ml=2100) is None
    big = ants.from_numpy(brain, spacing=(4.0, 4.0, 4.0))  # 3.5 l: a head with zeroed air
    assert stripped_input_mask(big, min_ml=300, max_ml=2100) is None


def test_flush_denormals_zeroes_denormals_inside_and_restores_the_default():
    import torch

    from glioma.preprocess.skullstrip import flush_denormals

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals (no SSE3)")
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # a denormal float32
    assert (tiny * 1.0).item() != 0.0
    with flush_denormals():
        assert (tiny * 1.0).item() == 0.0
    assert (tiny * 1.0).item() != 0.0  # torch's default again
    with pytest.raises(RuntimeError), flush_denormals():
        raise RuntimeError("a failing network")
    assert (tiny * 1.0).item() != 0.0  # restored after an error too
