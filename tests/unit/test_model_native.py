"""An atlas-space segmentation is mapped back onto each native scan with the preprocessing
transforms (ANTs; the transforms folder written by glioma.preprocess.registration)."""

import ants
import nibabel as nib
import numpy as np
import pytest

from glioma.errors import InputError
from glioma.model.infer import map_segmentation_to_native
from glioma.preprocess.registration import TransformChain, to_atlas


def _dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_atlas_mask_maps_back_onto_native_grids(tmp_path):
    # native scan: 2 x 2 x 4 mm grid; the atlas is 3 mm, shifted by a known translation
    native_arr = np.zeros((40, 40, 20), dtype=np.float32)
    native_arr[14:26, 16:28, 7:13] = 1
    native = ants.from_numpy(native_arr, origin=(0.0, 0.0, 0.0), spacing=(2.0, 2.0, 4.0))
    atlas_grid = ants.from_numpy(np.zeros((30, 30, 30), dtype=np.float32), origin=(-5.0, -5.0, -5.0),
                                 spacing=(3.0, 3.0, 3.0))
    work = tmp_path / "work"
    work.mkdir()
    shift = ants.create_ants_transform(transform_type="AffineTransform", dimension=3,
                                       translation=(6.0, -4.0, 3.0))
    ants.write_transform(shift, str(work / "t1c_to_atlas.mat"))
    identity = ants.create_ants_transform(transform_type="AffineTransform", dimension=3)
    ants.write_transform(identity, str(work / "t2_to_t1c.mat"))
    chain = TransformChain(coreg={"t2": str(work / "t2_to_t1c.mat")},
                           atlas_forward=[str(work / "t1c_to_atlas.mat")],
                           atlas_inverse=[str(work / "t1c_to_atlas.mat")],
                           atlas_inverse_invert=[True])
    patient = tmp_path / "patient"
    chain.save(patient / "transforms", {"t1c": native, "t2": native}, "Affine")
    # the "prediction": the native tumour mapped into atlas space
    in_atlas = to_atlas(native, "t1c", chain, atlas_grid, interpolator="nearestNeighbor")
    atlas_seg = patient / "seg_atlas.nii.gz"
    ants.image_write(in_atlas.clone("unsigned char"), str(atlas_seg))
    assert in_atlas.numpy().sum() > 0
    outputs = map_segmentation_to_native(atlas_seg, patient, tmp_path / "native", ["t1c", "t2"])
    for path in outputs:
        img = nib.load(str(path))
        assert img.shape == native_arr.shape
        np.testing.assert_allclose(np.abs(np.diag(img.affine))[:3], [2.0, 2.0, 4.0])
        back = ants.image_read(str(path)).numpy() > 0
        assert _dice(back, native_arr > 0) > 0.8, path  # 3 mm round trip loses the border only
    # without the translation's inverse the mask would land 6 mm off: check it is not identity
    wrong = ants.apply_transforms(fixed=native, moving=in_atlas, transformlist=[],
                                  interpolator="nearestNeighbor").numpy() > 0
    assert _dice(wrong, native_arr > 0) < _dice(ants.image_read(str(outputs[0])).numpy() > 0,
                                                 native_arr > 0)


def test_missing_transforms_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no preprocessing transforms"):
        map_segmentation_to_native(tmp_path / "x.nii.gz", tmp_path, tmp_path / "out")
