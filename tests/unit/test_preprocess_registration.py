"""Rigid co-registration recovers a known motion; transforms survive save/load and map back."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import ndimage

from glioma.preprocess.qc import dice
from glioma.preprocess.registration import (
    TransformChain,
    mutual_information,
    rigid_coregister,
    to_atlas,
    to_native,
)


def _phantom(shift_vox=(0.0, 0.0, 0.0)) -> np.ndarray:
    shape = (48, 48, 40)
    grid = np.indices(shape).astype(float)
    centre = np.array([24, 24, 20])[:, None, None, None] + np.asarray(shift_vox)[:, None, None, None]
    body = (((grid - centre) / np.array([16, 19, 14])[:, None, None, None]) ** 2).sum(0) < 1
    blob = (((grid - centre - np.array([6, -5, 3])[:, None, None, None]) / 5) ** 2).sum(0) < 1
    image = 100.0 * body + 80.0 * blob
    return ndimage.gaussian_filter(image, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def pair():
    import ants

    fixed = ants.from_numpy(_phantom(), spacing=(2.0, 2.0, 2.0))
    moving = ants.from_numpy(_phantom((3.0, -2.0, 1.5)), spacing=(2.0, 2.0, 2.0))
    return fixed, moving


def test_rigid_recovers_translation_and_improves_similarity(pair, tmp_path):
    fixed, moving = pair
    mat, warped = rigid_coregister(fixed, moving, tmp_path)
    before = dice(fixed.numpy() > 50, moving.numpy() > 50)
    after = dice(fixed.numpy() > 50, warped.numpy() > 50)
    assert before < 0.9 < after
    assert mutual_information(fixed, warped) > mutual_information(fixed, moving)


def test_chain_save_load_and_round_trip(pair, tmp_path):
    import ants

    fixed, moving = pair
    mat, _ = rigid_coregister(fixed, moving, tmp_path)
    # pretend the fixed image is the atlas: t1c -> atlas and t1 -> t1c are both this rigid
    atlas_mat = str(tmp_path / "atlas.mat")
    shutil.copyfile(mat, atlas_mat)
    chain = TransformChain(coreg={"t1": mat}, atlas_forward=[atlas_mat], atlas_inverse=[atlas_mat], atlas_inverse_invert=[True])
    folder = chain.save(tmp_path / "transforms", {"t1": moving, "t1c": moving}, "Affine")
    loaded = TransformChain.load(folder)
    assert (folder / "transforms.json").is_file() and (folder / "t1_native_grid.nii.gz").is_file()
    assert loaded.forward("t1")[0].endswith("t1c_to_atlas.mat")
    label = moving.new_image_like((moving.numpy() > 50).astype(np.float32))
    in_atlas = to_atlas(label, "t1c", loaded, fixed, interpolator="genericLabel")
    back = to_native(in_atlas, "t1c", loaded, ants.image_read(str(folder / "t1c_native_grid.nii.gz")))
    assert back.shape == moving.shape
    assert dice(back.numpy(), label.numpy()) > 0.95
    with pytest.raises(ValueError, match="unknown sequence"):
        to_atlas(label, "dwi", loaded, fixed)


def test_set_threads_fixes_the_ants_seed(monkeypatch):
    import os

    import torch

    from glioma.preprocess.threads import _ENV_VARS, ANTS_RANDOM_SEED, set_threads

    for name in _ENV_VARS:  # restored after the test
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    monkeypatch.delenv("ANTS_RANDOM_SEED", raising=False)
    assert set_threads(1) == 1
    assert os.environ["ANTS_RANDOM_SEED"] == ANTS_RANDOM_SEED
    monkeypatch.setenv("ANTS_RANDOM_SEED", "7")  # a user's own seed wins
    set_threads(2)
    assert os.environ["ANTS_RANDOM_SEED"] == "7"
