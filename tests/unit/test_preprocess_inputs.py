"""Bad input: every problem is an InputError naming patient, file and problem."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from glioma.errors import InputError
from glioma.preprocess.config import QCThresholds
from glioma.preprocess.inputs import load_scan, read_scan_array


def _head(shape=(40, 48, 30)) -> np.ndarray:
    grid = np.indices(shape).astype(np.float32)
    centre = (np.asarray(shape) / 2)[:, None, None, None]
    r = np.sqrt((((grid - centre) / (np.asarray(shape)[:, None, None, None] / 2.5)) ** 2).sum(axis=0))
    return (1000 * (r < 1) + 200 * np.random.default_rng(0).random(shape)).astype(np.int16)


def _save(tmp_path: Path, data: np.ndarray, affine: np.ndarray | None = None, name: str = "t1.nii.gz") -> Path:
    affine = np.diag([3.0, 3.0, 4.0, 1.0]) if affine is None else affine
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def _expect(path: Path, fragment: str, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        read_scan_array(path, subject="0042", **kwargs)
    message = str(info.value)
    assert "'0042'" in message and str(path) in message and fragment in message, message
    return info.value


def test_good_scan_reads_as_float32_with_same_geometry(tmp_path):
    path = _save(tmp_path, _head())
    data, affine = read_scan_array(path, subject="0042")
    assert data.dtype == np.float32 and data.shape == (40, 48, 30)
    image = load_scan(path, subject="0042")
    assert image.spacing == pytest.approx((3.0, 3.0, 4.0))
    assert np.allclose(image.numpy(), data)


def test_4d_uses_first_volume_with_warning(tmp_path, caplog):
    head = _head()
    path = _save(tmp_path, np.stack([head, head * 0 + 7], axis=-1))
    with caplog.at_level(logging.WARNING):
        data, _ = read_scan_array(path, subject="0042")
    assert np.array_equal(data, head.astype(np.float32))
    assert "4D volume" in caplog.text and "0042" in caplog.text


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf(tmp_path, bad):
    data = _head().astype(np.float32)
    data[3, 4, 5] = bad
    _expect(_save(tmp_path, data), "NaN/inf")


def test_empty_and_constant(tmp_path):
    _expect(_save(tmp_path, np.zeros((40, 40, 30), np.int16), name="a.nii.gz"), "empty")
    _expect(_save(tmp_path, np.full((40, 40, 30), 5, np.int16), name="b.nii.gz"), "constant")


def test_extreme_anisotropy(tmp_path):
    _expect(_save(tmp_path, _head(), np.diag([0.5, 0.5, 9.0, 1.0])), "anisotropy")
    # the real TCIA scans (0.9 x 0.9 x 5.5 mm) are accepted
    read_scan_array(_save(tmp_path, _head((200, 200, 26)), np.diag([0.9, 0.9, 5.5, 1.0]), "ok.nii.gz"), subject="0042")


def test_implausible_orientation(tmp_path):
    sheared = np.diag([3.0, 3.0, 4.0, 1.0])
    sheared[0, 1] = 2.0
    _expect(_save(tmp_path, _head(), sheared, "shear.nii.gz"), "not orthogonal")
    singular = np.diag([3.0, 3.0, 4.0, 1.0])
    singular[:3, 2] = singular[:3, 1]
    _expect(_save(tmp_path, _head(), singular, "singular.nii.gz"), "orientation matrix")


def test_truncated_and_missing_file(tmp_path):
    path = _save(tmp_path, _head())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    _expect(path, "truncated")
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(gzip.compress(b"not a nifti at all" * 10))
    _expect(garbage, "unreadable")
    _expect(tmp_path / "nope.nii.gz", "does not exist")


def test_too_small_field_of_view(tmp_path):
    _expect(_save(tmp_path, _head((10, 10, 10)), np.diag([1.0, 1.0, 1.0, 1.0])), "field of view")


def test_thresholds_are_configurable(tmp_path):
    path = _save(tmp_path, _head((160, 160, 20)), np.diag([0.5, 0.5, 9.0, 1.0]))
    with pytest.raises(InputError, match="anisotropy"):
        read_scan_array(path, subject="0042")
    read_scan_array(path, subject="0042", qc=QCThresholds(max_anisotropy=20))
