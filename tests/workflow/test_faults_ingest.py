"""Fault injection at the ingest stage, through the real workflow (issue 6).

Bad data is fed to the real Snakemake; every bad patient must end as a recorded exclusion whose
reason names the patient, the file and the problem, the run must finish for the good patients,
and nothing already written may be lost or half-written. Write failures (disk full) and a
process killed in the middle of a write are injected in-process / in a subprocess on the
package's own writers.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest

from glioma.io import atomic
from glioma.io.nifti import load_nifti, save_nifti

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.faults


def brain_like(shape=(12, 12, 8), seed=0):
    """A small int16 volume with an ellipsoid of signal (as the conftest's workspace writes)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    inside = (grid**2).sum(axis=0) < 0.8
    return (inside * rng.integers(200, 400, shape) + rng.integers(0, 20, shape)).astype(np.int16)


def write_raw(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))

TARGETS = ("results/ingest/inclusion_summary.tsv",)
SEQ = ("t1", "t1c", "t2", "flair")
LABELS = (
    "pid,idh_status,grade_who\n"
    "good-1,mut,II\ngood-2,wt,IV\n0042,wt,III\n"
    "typo-1,mutt,II\n"  # typo in a code
    "unknown-1,wt,V\n"  # an unknown code
    "../../etc/passwd,wt,IV\n"  # a path-traversal ID in the table: matches no folder, writes nothing
)
COLUMNS = {
    "idh": {"column": "idh_status", "map": {"mut": 1, "wt": 0}},
    "grade": {"column": "grade_who", "map": {"II": 2, "III": 3, "IV": 4}},
}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _no_temp_files(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".tmp" in p.name]


@pytest.mark.workflow
def test_bad_nifti_inputs_are_excluded_with_reasons(workspace):
    ws = workspace
    good = ["good-1", "good-2", "0042", "typo-1", "unknown-1", "Dup-1", "dup-1", "x..y", "gz-corrupt",
            "gz-truncated", "no-flair", "four-d", "nan-voxels", "inf-voxels"]
    ws.nifti_cohort("faulty", good, labels=LABELS, label_columns=COLUMNS)
    raw = ws.path("raw/faulty")
    (raw / "gz-corrupt" / "t1c.nii.gz").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(300))
    blob = (raw / "gz-truncated" / "t2.nii.gz").read_bytes()
    (raw / "gz-truncated" / "t2.nii.gz").write_bytes(blob[: len(blob) // 2])
    (raw / "no-flair" / "flair.nii.gz").unlink()
    write_raw(raw / "four-d" / "t1.nii.gz", np.stack([brain_like()] * 3, axis=-1))
    nan = brain_like().astype(np.float32)
    nan[3, 3, 3] = np.nan
    write_raw(raw / "nan-voxels" / "flair.nii.gz", nan)
    inf = brain_like().astype(np.float32)
    inf[4, 4, 4] = np.inf
    write_raw(raw / "inf-voxels" / "t2.nii.gz", inf)
    ws.write_config([("faulty", "train")])

    ws.snakemake(*TARGETS)  # exits 0: bad patients are exclusions, not failures

    out = ws.path("results/ingest/faulty")
    sheet = _read(out / "subjects.tsv").set_index("subject")
    exclusions = _read(out / "exclusions.tsv")
    reasons = {(r.subject or r.raw_name): (r.reason, r.detail) for r in exclusions.itertuples()}
    assert sorted(sheet.index[sheet["included"] == "1"]) == ["0042", "good-1", "good-2"]
    assert sheet.loc["0042", "grade"] == "3"  # numeric-only ID: found in the table as a string

    expected = {
        "typo-1": ("label_error", ["typo-1", "mutt", "idh_status"]),
        "unknown-1": ("label_error", ["unknown-1", "'V'", "grade_who"]),
        "Dup-1": ("duplicate_id", ["Dup-1", "dup-1"]),
        "x..y": ("invalid_id", ["x..y", ".."]),
        "gz-corrupt": ("corrupt_file", ["gz-corrupt", "t1c.nii.gz"]),
        "gz-truncated": ("corrupt_file", ["gz-truncated", "t2.nii.gz"]),
        "no-flair": ("missing_sequence", ["no-flair", "flair"]),
        "four-d": ("corrupt_file", ["four-d", "t1.nii.gz", "3D"]),
        "nan-voxels": ("corrupt_file", ["nan-voxels", "flair.nii.gz", "NaN"]),
        "inf-voxels": ("corrupt_file", ["inf-voxels", "t2.nii.gz", "infinite"]),
    }
    for subject, (reason, words) in expected.items():
        assert subject in reasons, f"{subject} not in exclusions.tsv: {reasons}"
        got_reason, detail = reasons[subject]
        assert got_reason == reason, (subject, got_reason, detail)
        for word in words:
            assert word in detail, f"{subject}: {word!r} not in {detail!r}"
    # the case-insensitive duplicate is excluded under both spellings
    assert {r.reason for r in exclusions.itertuples() if r.raw_name.lower() == "dup-1"} == {"duplicate_id"}
    # the excluded patients' folders hold only record.json; nothing escaped results/
    for subject in ("gz-corrupt", "gz-truncated", "no-flair", "four-d", "nan-voxels", "inf-voxels"):
        assert [p.name for p in (out / subject).iterdir()] == ["record.json"]
        assert json.loads((out / subject / "record.json").read_text())["status"] == "excluded"
    assert not (ws.root / "etc").exists() and not list(ws.root.rglob("passwd*"))
    for subject in ("good-1", "good-2", "0042"):
        for seq in SEQ:
            load_nifti(out / subject / f"{seq}.nii.gz")  # complete, readable
    assert _no_temp_files(ws.path("results")) == []
    summary = _read(ws.path("results/ingest/inclusion_summary.tsv"))
    found = int(summary.query("stage == 'discover' and reason == 'found'")["n"].iloc[0])
    assert found == len(good)


@pytest.fixture(scope="session")
def synthetic_dicom(tmp_path_factory) -> Path:
    """Three TCIA-like DICOM patients from the embedded generator (coarse anatomy)."""
    out = tmp_path_factory.mktemp("dicom") / "raw"
    cmd = [str(Path(sys.executable).with_name("glioma")), "synth", "--cohort-file",
           str(REPO / "config/cohorts/demo_test.yaml"), "--out", str(out), "--n-patients", "3",
           "--resolution", "4", "--no-progress"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return out


def _series_dirs(patient: Path, words: tuple[str, ...]) -> list[Path]:
    return sorted(d for d in patient.rglob("*") if d.is_dir() and any(w in d.name.upper() for w in words))


@pytest.mark.workflow
@pytest.mark.slow
def test_bad_dicom_is_excluded_with_reasons(workspace, synthetic_dicom):
    ws = workspace
    raw = ws.path("raw/dicom")
    shutil.copytree(synthetic_dicom, raw)
    patients = sorted(p.name for p in raw.iterdir() if p.is_dir() and p.name.startswith("SYN-"))
    assert len(patients) >= 3
    truncated, mixed, good = patients[:3]
    # truncated DICOM: one file of every T2 series of this patient cut in half (pixel data lost)
    victims = [sorted(d.glob("*.dcm"))[len(list(d.glob("*.dcm"))) // 2] for d in _series_dirs(raw / truncated, ("T2",))]
    for victim in victims:
        data = victim.read_bytes()
        victim.write_bytes(data[: len(data) // 2])
    # a series with mixed dimensions: one image of each FLAIR series has half the rows and columns
    odd_files = []
    for series in _series_dirs(raw / mixed, ("FLAIR",)):
        odd = sorted(series.glob("*.dcm"))[1]
        ds = pydicom.dcmread(odd)
        pixels = ds.pixel_array[::2, ::2].copy()
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.tobytes()
        ds.save_as(odd)
        odd_files.append(odd)
    cohort = {
        "name": "dicom", "layout": "tcia_dicom", "raw_root": "raw/dicom",
        "patient_id_pattern": "^SYN-[A-Z0-9]{2}-[0-9]{4}$",
        "segmentation": {"source": "manual", "path": "{raw_root}/segmentations/{subject}.nii.gz"},
    }
    ws.write_cohort(cohort)
    ws.write_config([("dicom", "test")])

    ws.snakemake(*TARGETS)

    out = ws.path("results/ingest/dicom")
    sheet = _read(out / "subjects.tsv").set_index("subject")
    reasons = {r.subject: (r.reason, r.detail) for r in _read(out / "exclusions.tsv").itertuples()}
    assert sheet.loc[good, "included"] == "1", reasons
    assert reasons[truncated][0] == "corrupt_file", reasons
    assert truncated in reasons[truncated][1] and "truncated" in reasons[truncated][1].lower()
    assert any(v.name in reasons[truncated][1] for v in victims), reasons[truncated]
    assert reasons[mixed][0] == "corrupt_file", reasons
    assert mixed in reasons[mixed][1] and "dimension" in reasons[mixed][1], reasons[mixed]
    for seq in SEQ:
        load_nifti(out / good / f"{seq}.nii.gz")
    assert _no_temp_files(ws.path("results")) == []


# --- write failures --------------------------------------------------------------------------------


def _disk_full(monkeypatch, module, name):
    """Replace ``module.name`` (a writer) by one that writes half its data, then fails with ENOSPC."""
    real = getattr(module, name)

    def failing(self, data, *args, **kwargs):
        real(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(module, name, failing)


def test_disk_full_keeps_the_old_file_and_leaves_no_partial_one(tmp_path, monkeypatch):
    from glioma.ingest.cohort import load_cohort
    from glioma.ingest.subject import ingest_subject

    raw = tmp_path / "raw"
    for seq in SEQ:
        write_raw(raw / "P1" / f"{seq}.nii.gz", brain_like(seed=len(seq)))
    cohort_file = tmp_path / "c.yaml"
    cohort_file.write_text(f"name: c\nlayout: nifti_folder\nraw_root: {raw}\n")
    cohort = load_cohort(cohort_file)
    out = tmp_path / "out" / "P1"
    first = ingest_subject(cohort, "P1", "P1", out)
    assert first["status"] == "included"
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    # the disk fills up while the rerun writes record.json: the error propagates (the job fails,
    # it is not the patient's fault), the old record and images stay as they were, no temp file
    _disk_full(monkeypatch, Path, "write_text")
    with pytest.raises(OSError) as info:
        ingest_subject(cohort, "P1", "P1", out)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    # ... and while a NIfTI is written (gzip stream cut short)
    target = out / "t1.nii.gz"
    _disk_full(monkeypatch, gzip.GzipFile, "write")
    with pytest.raises(OSError):
        save_nifti(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4)), target)
    monkeypatch.undo()
    assert target.read_bytes() == before["t1.nii.gz"]
    assert sorted(p.name for p in out.iterdir()) == sorted(before)

    # ... and while a table is written
    sheet = tmp_path / "subjects.tsv"
    atomic.write_table(sheet, pd.DataFrame({"subject": ["0001"], "included": [1]}))
    old = sheet.read_bytes()
    real_write = atomic.atomic_path

    def full(target, suffix=None):
        manager = real_write(target, suffix)
        tmp = manager.__enter__()
        tmp.write_text("subject\tincl")  # half a table reached the disk
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
        except OSError as err:
            manager.__exit__(type(err), err, err.__traceback__)
            raise

    monkeypatch.setattr(atomic, "atomic_path", full)
    with pytest.raises(OSError):
        atomic.write_table(sheet, pd.DataFrame({"subject": ["0001", "0002"], "included": [1, 0]}))
    monkeypatch.undo()
    assert sheet.read_bytes() == old
    assert _no_temp_files(tmp_path) == []


WRITER = """
import sys, numpy as np, nibabel as nib
from glioma.io.nifti import save_nifti
target, i = sys.argv[1], 0
while True:  # rewrite the file forever, each time with a different, self-describing content
    i += 1
    data = np.full((64, 64, 48), i % 30000, dtype=np.int16)
    save_nifti(nib.Nifti1Image(data, np.eye(4)), target)
    print(i, flush=True)
"""


def test_killed_in_the_middle_of_a_write_leaves_a_complete_file(tmp_path):
    target = tmp_path / "t1c.nii.gz"
    save_nifti(nib.Nifti1Image(np.full((64, 64, 48), 7, np.int16), np.eye(4)), target)
    for delay in (0.7, 1.1, 1.6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # at least one rewrite finished; the next one is in flight
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        data = np.asanyarray(load_nifti(target).dataobj)  # never half-written
        assert data.shape == (64, 64, 48) and len(np.unique(data)) == 1
    # a kill can leave the writer's hidden temp file (.<name>.<host>-<pid>.<random>.tmp.nii.gz)
    # beside the target, never a partial target; Snakemake does not see it, and the rerun's write
    # of the target removes it (its writer is gone)
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert all(name.startswith(".t1c.nii.gz.") and ".tmp" in name for name in leftovers), leftovers
    save_nifti(nib.Nifti1Image(np.full((64, 64, 48), 8, np.int16), np.eye(4)), target)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert int(np.asanyarray(load_nifti(target).dataobj).max()) == 8
