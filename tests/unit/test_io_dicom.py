"""glioma.io.dicom: header reading, pixel checks and dcm2niix conversion on pydicom-written series.

``write_series`` is also used by the ingest tests (same folder, imported by module name).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from glioma.errors import InputError
from glioma.io.dicom import check_pixel_data, convert_series, read_series

CANARIES = {
    "PatientName": "Canary^Zebulon",
    "PatientBirthDate": "19230417",
    "OtherPatientIDs": "CANARY-OTHER-991",
    "InstitutionAddress": "17 Canary Lane Springfield",
    "ReferringPhysicianName": "Doctor^Canarywood",
}

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def write_series(folder: Path, *, description: str, shape: tuple[int, int, int] = (24, 20, 8),
                 spacing: tuple[float, float, float] = (1.0, 1.0, 3.0), orientation=AXIAL,
                 series_number: int = 1, study_uid: str | None = None, study_description: str = "MRI BRAIN",
                 study_date: str = "20100101", acquisition: str = "2D", tr: float = 500.0, te: float = 10.0,
                 ti: float | None = None, contrast: str = "", patient_id: str = "P1", seed: int = 0,
                 image_type=("ORIGINAL", "PRIMARY", "M", "ND")) -> Path:
    """Write one MR series (``shape`` = rows, columns, slices; ``spacing`` = row, column, slice)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    series_uid = generate_uid()
    study_uid = study_uid or generate_uid()
    rows, cols, slices = shape
    row_dir, col_dir = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row_dir, col_dir)
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.PatientID = patient_id
        for key, value in CANARIES.items():
            setattr(ds, key, value)
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyDescription = study_description
        ds.StudyDate = study_date
        ds.SeriesDate = study_date
        ds.SeriesDescription = description
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.ImageType = list(image_type)
        ds.Manufacturer = "SIEMENS"
        ds.MagneticFieldStrength = 1.5
        ds.MRAcquisitionType = acquisition
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.RepetitionTime = tr
        ds.EchoTime = te
        if ti is not None:
            ds.InversionTime = ti
        if contrast:
            ds.ContrastBolusAgent = contrast
        ds.SliceThickness = spacing[2]
        ds.PixelSpacing = [spacing[0], spacing[1]]
        ds.ImageOrientationPatient = list(orientation)
        position = np.array([-100.0, -120.0, -40.0]) + normal * spacing[2] * k
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.SliceLocation = float(np.dot(position, normal))
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        ds.PixelData = rng.integers(0, 1000, size=(rows, cols), dtype=np.int16).tobytes()
        ds.save_as(folder / f"1-{k + 1:02d}.dcm", enforce_file_format=True)
    return folder


def test_read_series_groups_and_geometry(tmp_path):
    write_series(tmp_path / "a", description="AX T1 PRE", shape=(24, 20, 6), spacing=(0.5, 0.6, 4.0))
    write_series(tmp_path / "b", description="SAG T1", orientation=SAGITTAL, spacing=(1.0, 1.0, 5.0), series_number=2)
    series = {s.series_description: s for s in read_series(tmp_path, subject="P1")}
    assert set(series) == {"AX T1 PRE", "SAG T1"}
    axial = series["AX T1 PRE"]
    assert axial.n_files == 6 and axial.rows == 24 and axial.columns == 20
    assert axial.plane() == "axial"
    assert axial.slice_spacing() == pytest.approx(4.0)
    assert axial.axial_spacing() == pytest.approx((0.6, 0.5))
    sagittal = series["SAG T1"]
    assert sagittal.plane() == "sagittal"
    assert sagittal.axial_spacing() == pytest.approx((5.0, 1.0))  # L-R step is the slice spacing


def test_corrupt_file_names_patient_and_file(tmp_path):
    folder = write_series(tmp_path / "s", description="AX T2", shape=(8, 8, 3))
    bad = folder / "1-02.dcm"
    bad.write_bytes(b"this is not dicom at all" * 10)
    with pytest.raises(InputError) as err:
        read_series(tmp_path, subject="P7")
    assert "P7" in str(err.value) and "1-02.dcm" in str(err.value)


def test_truncated_pixel_data_is_detected(tmp_path):
    folder = write_series(tmp_path / "s", description="AX T2", shape=(16, 16, 3))
    target = folder / "1-03.dcm"
    target.write_bytes(target.read_bytes()[:-200])
    info = read_series(tmp_path, subject="P2")[0]  # headers are intact
    with pytest.raises(InputError, match="truncated|unreadable"):
        check_pixel_data(info.files, subject="P2")


def test_convert_series_geometry_and_no_phi(tmp_path):
    folder = write_series(tmp_path / "s", description="AX FLAIR", shape=(24, 20, 7), spacing=(0.9, 0.8, 5.0))
    info = read_series(folder)[0]
    out = convert_series(info.files, tmp_path / "out" / "flair.nii.gz", subject="P1")
    image = nib.load(out)
    assert image.shape == (20, 24, 7)  # columns x rows x slices
    assert np.allclose(image.header.get_zooms()[:3], (0.8, 0.9, 5.0), atol=1e-3)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["flair.nii.gz"]  # no sidecar
    raw = gzip.decompress(Path(out).read_bytes())
    for value in CANARIES.values():
        assert value.encode() not in raw
