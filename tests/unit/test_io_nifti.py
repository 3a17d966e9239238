"""glioma.io.nifti: validated loading, anonymised saving, grid matching, whole-tumour masks."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

from glioma.errors import InputError
from glioma.io.nifti import Grid, grids_match, load_nifti, save_nifti, whole_tumour


def test_truncated_and_not_nifti_raise_input_error(tmp_path):
    path = tmp_path / "x.nii.gz"
    data = np.random.default_rng(0).integers(0, 1000, (20, 20, 20)).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputError) as err:
        load_nifti(path, subject="0099")
    assert "0099" in str(err.value) and "x.nii.gz" in str(err.value)
    other = tmp_path / "y.nii.gz"
    other.write_bytes(b"hello")
    with pytest.raises(InputError):
        load_nifti(other, subject="0099")
    with pytest.raises(InputError, match="does not exist"):
        load_nifti(tmp_path / "absent.nii.gz")


def test_save_blanks_free_text(tmp_path):
    image = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    image.header["descrip"] = b"Canary^Name"
    out = save_nifti(image, tmp_path / "o.nii.gz")
    assert b"Canary" not in gzip.decompress(out.read_bytes())


def test_grid_matching_up_to_axis_order():
    affine = np.array([[0, 0, 1.05, -78.6], [-1.05, 0.01, 0, 113.7], [0.01, 1.05, 0, -107.7], [0, 0, 0, 1]])
    image = nib.Nifti1Image(np.zeros((248, 248, 163), np.uint8), affine)
    canonical = nib.as_closest_canonical(image)
    assert canonical.shape == (163, 248, 248)
    assert grids_match(Grid.of(image), Grid.of(canonical))
    shifted = canonical.affine.copy()
    shifted[0, 3] += 1.0
    assert not grids_match(Grid.of(image), Grid((163, 248, 248), tuple(map(tuple, shifted))))
    assert not grids_match(Grid.of(image), Grid((163, 248, 247), tuple(map(tuple, canonical.affine))))


def test_whole_tumour_labels():
    data = np.array([0, 1, 2, 4, 3]).reshape(5, 1, 1)
    image = nib.Nifti1Image(data.astype(np.int16), np.eye(4))
    assert whole_tumour(image).get_fdata().ravel().tolist() == [0, 1, 1, 1, 1]
    assert whole_tumour(image, [1, 2, 4]).get_fdata().ravel().tolist() == [0, 1, 1, 1, 0]
