"""TCIA-like DICOM writer: ``<PatientID>/<MM-DD-YYYY>-<Study>-<5 digits>/<N>.000000-<Series>-<5 digits>/1-NN.dcm``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from glioma.io.atomic import write_bytes
from glioma.synth.geometry import Grid

UID_PREFIX = "1.2.826.0.1.3680043.10.1143."  # test root for synthetic data


def uid(*parts: Any) -> str:
    return generate_uid(prefix=UID_PREFIX, entropy_srcs=[str(p) for p in parts])


def safe_folder(text: str) -> str:
    """TCIA-style folder text: path separators and odd characters dropped."""
    return re.sub(r"[^A-Za-z0-9 +_.()-]", "", text).strip() or "NA"


@dataclass
class Stack:
    """One block of slices of a series: stored pixel values (columns, rows, slices) and the grid."""

    grid: Grid
    pixels: np.ndarray  # uint16
    extra: dict[str, Any] | None = None  # per-stack attributes (e.g. DiffusionBValue)


VARYING = ("SOPInstanceUID", "InstanceNumber", "ImagePositionPatient", "SliceLocation", "PixelData")


def _encode(elements: list[DataElement]) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    sub = Dataset()
    for elem in elements:
        sub.add(elem)
    write_dataset(fp, sub)
    return fp.getvalue()


def _encode_meta(meta: FileMetaDataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    fp.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(fp, meta, enforce_standard=True)
    return fp.getvalue()


class _SliceEncoder:
    """Encodes a dataset once; per slice only the varying elements are re-encoded (fast)."""

    def __init__(self, ds: Dataset):
        self.chunks: list[bytes | str] = []
        fixed: list[DataElement] = []
        for elem in ds:  # sorted by tag
            if elem.keyword in VARYING:
                self.chunks.append(_encode(fixed))
                self.chunks.append(elem.keyword)
                fixed = []
            else:
                fixed.append(elem)
        self.chunks.append(_encode(fixed))

    def encode(self, ds: Dataset) -> bytes:
        parts = []
        for chunk in self.chunks:
            parts.append(_encode([ds[chunk]]) if isinstance(chunk, str) else chunk)
        return b"".join(parts)


def write_series(folder: Path, stacks: list[Stack], header: dict[str, Any], uid_key: str,
                 skip_instance: int | None = None) -> int:
    """Write all slices of ``stacks`` as one series into ``folder``; returns the file count."""
    n_total = sum(s.pixels.shape[2] for s in stacks)
    width = max(2, len(str(n_total)))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = uid(uid_key, 0)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID_PREFIX + "1"
    number = 0
    written = 0
    for stack in stacks:
        ds = Dataset()
        for key, value in header.items():
            setattr(ds, key, value)
        ds.SOPClassUID = MRImageStorage
        ds.Modality = "MR"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        lps = stack.grid.affine_lps
        spacing = stack.grid.spacing
        row_dir = lps[:3, 0] / spacing[0]
        col_dir = lps[:3, 1] / spacing[1]
        normal = np.cross(row_dir, col_dir)
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]
        ds.SliceThickness = f"{stack.grid.thickness:.4f}"
        ds.SpacingBetweenSlices = f"{spacing[2]:.4f}"
        ds.Columns, ds.Rows = int(stack.pixels.shape[0]), int(stack.pixels.shape[1])
        for key, value in (stack.extra or {}).items():
            setattr(ds, key, value)
        ds.SOPInstanceUID = uid(uid_key, 0)
        ds.InstanceNumber = 0
        ds.ImagePositionPatient = ["0", "0", "0"]
        ds.SliceLocation = "0"
        ds.PixelData = b"\x00\x00"
        ds["PixelData"].VR = "OW"
        encoder = _SliceEncoder(ds)
        for k in range(stack.pixels.shape[2]):
            number += 1
            if skip_instance is not None and number == skip_instance:
                continue
            pos = lps[:3, 3] + k * lps[:3, 2]
            ds.ImagePositionPatient = [f"{v:.6f}" for v in pos]
            ds.SliceLocation = f"{float(pos @ normal):.6f}"
            ds.InstanceNumber = number
            ds.SOPInstanceUID = uid(uid_key, number)
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.PixelData = np.ascontiguousarray(stack.pixels[:, :, k].T).tobytes()
            payload = _encode_meta(meta) + encoder.encode(ds)
            write_bytes(folder / f"1-{number:0{width}d}.dcm", payload)
            written += 1
    return written


def dcm2niix_grid(grid: Grid) -> tuple[np.ndarray, bool]:
    """Affine of the NIfTI dcm2niix writes for a series on ``grid`` and whether the rows are flipped.

    dcm2niix converts the DICOM LPS geometry to RAS and flips the row order (its default), so NIfTI
    voxel (i, j, k) is DICOM column i, row ``rows-1-j``, slice k (slices sorted along the normal).
    """
    affine = grid.affine.copy()
    rows = grid.shape[1]
    affine[:3, 3] = affine[:3, 3] + affine[:3, 1] * (rows - 1)
    affine[:3, 1] = -affine[:3, 1]
    return affine, True
