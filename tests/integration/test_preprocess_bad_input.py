"""Bad input through the whole per-patient command: excluded with the reason, nothing else written."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from glioma.cli import main
from glioma.preprocess.config import PreprocessConfig
from glioma.preprocess.pipeline import preprocess_subject
from glioma.schema import PREPROCESS_FILES, SEQUENCES

pytestmark = pytest.mark.faults


def _scan(path: Path, data: np.ndarray, spacing=(2.0, 2.0, 2.0)) -> Path:
    nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), str(path))
    return path


def _noise_scans(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(3)
    return {s: _scan(folder / f"{s}.nii.gz", (rng.random((64, 64, 48)) * 1000).astype(np.int16)) for s in SEQUENCES}


def _only_qc_json(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [PREPROCESS_FILES["qc"]]


def test_cli_excludes_a_truncated_file_and_names_it(tmp_path, capsys):
    scans = _noise_scans(tmp_path)
    raw = scans["flair"].read_bytes()
    scans["flair"].write_bytes(raw[: len(raw) // 3])
    out = tmp_path / "P-07"
    args = [f"--{s}={scans[s]}" for s in SEQUENCES] + ["--out", str(out), "--threads", "1"]
    assert main(["preprocess", *args]) == 3
    record = json.loads((out / "qc.json").read_text())
    assert record["status"] == "excluded" and record["subject"] == "P-07"
    assert "'P-07'" in record["reason"] and "flair.nii.gz" in record["reason"] and "truncated" in record["reason"]
    assert json.loads(capsys.readouterr().out)["status"] == "excluded"
    _only_qc_json(out)


def test_missing_sequence_is_excluded(tmp_path):
    scans = _noise_scans(tmp_path)
    del scans["t2"]
    record = preprocess_subject(scans, tmp_path / "out", subject="0003")
    assert record["status"] == "excluded" and "t2" in record["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hdbet", "atlas"])
def test_non_brain_image_is_excluded(tmp_path, backend):
    """Noise cubes: HD-BET finds no brain (volume check) / the atlas fit fails QC."""
    scans = _noise_scans(tmp_path)
    out = tmp_path / "out"
    record = preprocess_subject(scans, out, subject="0004",
                                config=PreprocessConfig(resolution_mm=4.0, skull_strip=backend))
    assert record["status"] == "excluded", record
    assert "'0004'" in record["reason"]
    assert ("brain volume" in record["reason"]) or ("failed QC" in record["reason"]), record["reason"]
    _only_qc_json(out)
