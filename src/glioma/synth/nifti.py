"""Deterministic NIfTI writing (gzip without file name or time stamp), atomic."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np

from glioma.io.atomic import write_bytes


def write_nifti(path: str | Path, data: np.ndarray, affine: np.ndarray) -> Path:
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    payload = img.to_bytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=1, mtime=0)
    return write_bytes(path, payload)
