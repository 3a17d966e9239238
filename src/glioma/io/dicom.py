"""DICOM: read series metadata from headers and convert one series to NIfTI with dcm2niix.

Only the non-identifying header fields needed to identify and select series are kept in
:class:`SeriesInfo`; conversion runs dcm2niix with anonymisation (``-ba y``) and without JSON
sidecars (``-b n``), and the written NIfTI header's free-text fields are blanked.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glioma.errors import InputError
from glioma.io.nifti import load_nifti, save_nifti

log = logging.getLogger(__name__)

_IGNORED_NAMES = {"DICOMDIR", "LICENSE", "README", "Thumbs.db"}
_NON_DICOM_SUFFIXES = {".json", ".txt", ".xml", ".csv", ".tsv", ".nii", ".gz", ".md", ".html", ".png", ".jpg"}


@dataclass
class SeriesInfo:
    """Metadata of one DICOM series (no identifying values)."""

    series_uid: str
    study_uid: str
    study_description: str = ""
    study_date: str = ""  # used only to order studies; never written to outputs
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    image_type: tuple[str, ...] = ()
    rows: int = 0
    columns: int = 0
    pixel_spacing: tuple[float, float] = (0.0, 0.0)  # (row spacing, column spacing) in mm
    slice_thickness: float = 0.0
    orientation: tuple[float, ...] = ()  # ImageOrientationPatient (6 direction cosines)
    positions: list[tuple[float, float, float]] = field(default_factory=list)
    acquisition_type: str = ""  # MRAcquisitionType: 2D / 3D
    repetition_time: float | None = None
    echo_time: float | None = None
    inversion_time: float | None = None
    scanning_sequence: str = ""
    sequence_variant: str = ""
    sequence_name: str = ""
    contrast_agent: str = ""
    files: list[Path] = field(default_factory=list)

    @property
    def n_files(self) -> int:
        return len(self.files)

    @property
    def is_3d(self) -> bool:
        return self.acquisition_type.upper() == "3D"

    @property
    def n_orientations(self) -> int:
        return 1 if self.orientation else 0

    def slice_spacing(self) -> float:
        """Distance between slice centres along the slice normal (falls back on thickness)."""
        normal = self.normal()
        if normal is not None and len(self.positions) > 1:
            offsets = sorted({round(float(np.dot(normal, p)), 4) for p in self.positions})
            if len(offsets) > 1:
                return float(np.median(np.diff(offsets)))
        return float(self.slice_thickness or 0.0)

    def normal(self) -> np.ndarray | None:
        if len(self.orientation) != 6:
            return None
        row, col = np.asarray(self.orientation[:3]), np.asarray(self.orientation[3:])
        return np.cross(row, col)

    def voxel_axes(self) -> np.ndarray | None:
        """3x3 array: the patient-space (LPS) vectors of one voxel step along row, column, slice."""
        normal = self.normal()
        if normal is None:
            return None
        row, col = np.asarray(self.orientation[:3]), np.asarray(self.orientation[3:])
        # PixelSpacing = (spacing between rows, spacing between columns); moving along a row
        # (next column) steps by the column spacing.
        return np.stack(
            [row * self.pixel_spacing[1], col * self.pixel_spacing[0], normal * self.slice_spacing()]
        )

    def axial_spacing(self) -> tuple[float, float]:
        """Voxel size along the patient's left-right and anterior-posterior axes (mm).

        For each of these patient axes the voxel axis most aligned with it gives the spacing, so
        an axial acquisition reports its in-plane pixel size and a sagittal or coronal one its
        slice spacing in one of the two.
        """
        axes = self.voxel_axes()
        if axes is None:
            return (float("inf"), float("inf"))
        lengths = np.linalg.norm(axes, axis=1)
        directions = np.abs(axes / np.where(lengths[:, None] > 0, lengths[:, None], 1))
        out = []
        for patient_axis in (0, 1):  # L-R, A-P
            voxel_axis = int(np.argmax(directions[:, patient_axis]))
            out.append(float(lengths[voxel_axis]) if lengths[voxel_axis] > 0 else float("inf"))
        return (out[0], out[1])

    def plane(self) -> str:
        """Acquisition plane from the slice normal: axial, coronal or sagittal."""
        normal = self.normal()
        if normal is None:
            return ""
        return ("sagittal", "coronal", "axial")[int(np.argmax(np.abs(normal)))]


def _float(value: object) -> float | None:
    try:
        if value is None or value == "":
            return None
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)  # type: ignore[union-attr]
    return str(value).strip()


def _candidate_files(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith(".") or name in _IGNORED_NAMES:
                continue
            if path.suffix.lower() in _NON_DICOM_SUFFIXES:
                continue
            files.append(path)
    return files


def read_series(folder: str | Path, *, subject: str | None = None) -> list[SeriesInfo]:
    """Read every DICOM file's header under ``folder`` and group them by SeriesInstanceUID.

    A file that is not readable DICOM raises :class:`InputError` naming it (a download with a
    corrupt file is not trusted). Non-MR files (e.g. SR, presentation states) are skipped.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    folder = Path(folder)
    series: dict[str, SeriesInfo] = {}
    for path in _candidate_files(folder):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"not a readable DICOM file ({type(err).__name__}: {err})",
                             subject=subject, path=path) from err
        uid = _text(ds.get("SeriesInstanceUID"))
        if not uid:
            raise InputError("DICOM file has no SeriesInstanceUID", subject=subject, path=path)
        if "ImageOrientationPatient" not in ds and "Rows" not in ds:
            continue  # not an image (structured report, presentation state, ...)
        info = series.get(uid)
        if info is None:
            spacing = ds.get("PixelSpacing") or [0.0, 0.0]
            info = SeriesInfo(
                series_uid=uid,
                study_uid=_text(ds.get("StudyInstanceUID")),
                study_description=_text(ds.get("StudyDescription")),
                study_date=_text(ds.get("StudyDate")),
                series_number=int(ds.SeriesNumber) if ds.get("SeriesNumber") not in (None, "") else None,
                series_description=_text(ds.get("SeriesDescription")) or _text(ds.get("ProtocolName")),
                modality=_text(ds.get("Modality")),
                image_type=tuple(str(v).upper() for v in (ds.get("ImageType") or ())),
                rows=int(ds.get("Rows") or 0),
                columns=int(ds.get("Columns") or 0),
                pixel_spacing=(float(spacing[0]), float(spacing[1])),
                slice_thickness=_float(ds.get("SliceThickness")) or 0.0,
                orientation=tuple(float(v) for v in (ds.get("ImageOrientationPatient") or ())),
                acquisition_type=_text(ds.get("MRAcquisitionType")),
                repetition_time=_float(ds.get("RepetitionTime")),
                echo_time=_float(ds.get("EchoTime")),
                inversion_time=_float(ds.get("InversionTime")),
                scanning_sequence=_text(ds.get("ScanningSequence")),
                sequence_variant=_text(ds.get("SequenceVariant")),
                sequence_name=_text(ds.get("SequenceName")),
                contrast_agent=_text(ds.get("ContrastBolusAgent")),
            )
            series[uid] = info
        else:
            orientation = tuple(float(v) for v in (ds.get("ImageOrientationPatient") or ()))
            if orientation and info.orientation and not np.allclose(orientation, info.orientation, atol=1e-3):
                info.orientation = ()  # multi-planar (e.g. a 3-plane localizer)
                info.image_type = (*info.image_type, "MULTIPLANAR")
        position = ds.get("ImagePositionPatient")
        if position is not None and len(position) == 3:
            info.positions.append(tuple(float(v) for v in position))  # type: ignore[arg-type]
        info.files.append(path)
    return list(series.values())


def check_pixel_data(files: Iterable[Path], *, subject: str | None = None) -> None:
    """Raise :class:`InputError` for a file whose pixel data is absent or truncated, or whose
    image size differs from the series' first file (dcm2niix would split such a series into
    several volumes with gaps)."""
    import pydicom

    first: tuple[tuple[int, int], Path] | None = None
    for path in files:
        try:
            ds = pydicom.dcmread(path)
            data = ds.get("PixelData")
        except Exception as err:  # noqa: BLE001 - any failure here means an unreadable file
            raise InputError(f"unreadable DICOM pixel data ({type(err).__name__}: {err})",
                             subject=subject, path=path) from err
        if data is None:
            raise InputError("DICOM file has no pixel data", subject=subject, path=path)
        size = (int(ds.get("Rows") or 0), int(ds.get("Columns") or 0))
        if first is None:
            first = (size, Path(path))
        elif size != first[0]:
            raise InputError(
                f"series has images of different dimensions: {size[0]}x{size[1]} here, "
                f"{first[0][0]}x{first[0][1]} in {first[1].name!r}", subject=subject, path=path,
            )
        if "TransferSyntaxUID" in ds.file_meta and ds.file_meta.TransferSyntaxUID.is_compressed:
            continue
        expected = (int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
                    * int(ds.get("NumberOfFrames", 1) or 1) * int(ds.BitsAllocated) // 8)
        if len(data) < expected:
            raise InputError(
                f"truncated DICOM pixel data ({len(data)} of {expected} bytes)", subject=subject, path=path
            )


def dcm2niix_executable() -> str:
    """Path of dcm2niix: beside the running Python (the venv's PyPI binary), else on PATH."""
    import sys

    beside = Path(sys.executable).with_name("dcm2niix")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dcm2niix")
    if found is None:
        raise FileNotFoundError("dcm2niix not found (install the 'dcm2niix' package)")
    return found


def convert_series(files: list[Path], target: str | Path, *, subject: str | None = None,
                   timeout_s: float = 1200) -> Path:
    """Convert one series' files to a gzipped NIfTI at ``target`` (atomically, anonymised).

    dcm2niix runs on a temporary folder of links to exactly these files, with ``-ba y -b n``.
    If it writes several volumes (e.g. one per echo) the largest is kept, with a warning.
    """
    target = Path(target)
    with tempfile.TemporaryDirectory(prefix="glioma-dcm2niix-") as tmp:
        in_dir, out_dir = Path(tmp) / "in", Path(tmp) / "out"
        in_dir.mkdir()
        out_dir.mkdir()
        for index, path in enumerate(files):
            link = in_dir / f"{index:06d}.dcm"
            try:
                link.symlink_to(Path(path).resolve())
            except OSError:
                shutil.copy2(path, link)
        cmd = [dcm2niix_executable(), "-b", "n", "-ba", "y", "-z", "n", "-f", "series", "-o",
               str(out_dir), str(in_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        outputs = sorted(out_dir.glob("*.nii"), key=lambda p: p.stat().st_size, reverse=True)
        if proc.returncode != 0 or not outputs:
            message = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise InputError(
                f"dcm2niix could not convert the series (exit {proc.returncode}: {' | '.join(message)})",
                subject=subject, path=Path(files[0]).parent if files else None,
            )
        if len(outputs) > 1:
            log.warning("patient %r: dcm2niix wrote %d volumes for one series; keeping the largest",
                        subject, len(outputs))
        image = load_nifti(outputs[0], subject=subject)
        save_nifti(image, target)
    return target
