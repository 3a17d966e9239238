"""The resilience tests' own instruments must be able to fail: the PHI scanner finds a planted
identifying string in every container an output can have, Snakemake's incomplete markers are
decoded, a dry-run plan is parsed, and a kill point stops a process exactly in its window."""

from __future__ import annotations

import base64
import gzip
import io
import os
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from .resilience import incomplete_outputs, phi_hits, planned_jobs, run_and_kill

pytestmark = pytest.mark.faults

NAME = "QXWERTYLAN^BOVIQUE"  # the generator's style: LAST^FIRST, letters only
PARTS = ["QXWERTYLAN", "BOVIQUE"]
BIRTH = "19630417"
CANARIES = [NAME, *PARTS, BIRTH, "MRN48151623Q"]


def _png_with_text(text: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Description": text})
    plt.close(fig)
    return buffer.getvalue()


def _pdf_with_title(text: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title(text)  # drawn text: kerned into pieces inside a compressed content stream
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf")
    plt.close(fig)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """One file per container, each hiding one canary (name -> (file, canary))."""
    folder = tmp_path_factory.mktemp("planted")
    files: dict[str, tuple[Path, str]] = {}

    def add(name: str, data: bytes, canary: str) -> None:
        path = folder / name
        path.write_bytes(data)
        files[name] = (path, canary)

    add("job.log", f"INFO reading header of {NAME.lower()}\n".encode(), NAME)
    header_img = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    header_img.header["descrip"] = PARTS[0].encode()
    nib.save(header_img, str(folder / "descrip.nii.gz"))
    files["descrip.nii.gz"] = (folder / "descrip.nii.gz", PARTS[0])
    aux = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    aux.header["aux_file"] = PARTS[1].encode()
    nib.save(aux, str(folder / "aux.nii.gz"))
    files["aux.nii.gz"] = (folder / "aux.nii.gz", PARTS[1])
    extended = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    extended.header.extensions.append(nib.nifti1.Nifti1Extension(6, f"PatientName={NAME}".encode()))
    nib.save(extended, str(folder / "extension.nii.gz"))
    files["extension.nii.gz"] = (folder / "extension.nii.gz", NAME)
    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(3), "note": "MRN48151623Q"}, buffer)
    add("model.pt", buffer.getvalue(), "MRN48151623Q")
    add("figure.png", _png_with_text(f"born {BIRTH}"), BIRTH)
    add("figure.pdf", _pdf_with_title(f"Patient {PARTS[0]}"), PARTS[0])
    csv = f"subject,birth\nP1,{BIRTH[:4]}-{BIRTH[4:6]}-{BIRTH[6:]}\n".encode()
    add("report.html", b'<a href="data:text/csv;charset=utf8;filename=t.csv;base64,'
        + base64.b64encode(csv) + b'">t</a>', BIRTH)
    add("table.tsv.gz", gzip.compress(f"a\t{NAME}\n".encode()), NAME)
    return files


def test_every_planted_canary_is_found(planted):
    for name, (path, canary) in planted.items():
        hits = phi_hits([path], CANARIES)
        assert (str(path), canary) in hits, f"{name}: {canary!r} not found ({hits})"


def test_clean_files_and_coincidental_digits_are_not_hits(tmp_path):
    clean = tmp_path / "scores.csv"
    clean.write_text(f"subject,score\nSYN-TX-0001,0.{BIRTH}7\nSYN-TX-0002,3{BIRTH}\n")
    nifti = tmp_path / "clean.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(64, dtype=np.int16).reshape(4, 4, 4), np.eye(4)), str(nifti))
    assert phi_hits([clean, nifti], CANARIES) == []


def test_incomplete_markers_are_decoded(tmp_path):
    folder = tmp_path / ".snakemake" / "incomplete"
    folder.mkdir(parents=True)
    short = "results/evaluate/c/table2.csv"
    (folder / base64.urlsafe_b64encode(short.encode()).decode()).write_text("{}")
    long = "results/" + "x" * 300 + "/qc.json"  # longer than a file name: split into folders
    encoded = base64.urlsafe_b64encode(long.encode()).decode()
    chunks = [encoded[i : i + 254] for i in range(0, len(encoded), 254)]
    nested = folder.joinpath(*["@" + c for c in chunks[:-1]])
    nested.mkdir(parents=True)
    (nested / chunks[-1]).write_text("{}")
    (folder / "migration_underway").write_text("")
    assert incomplete_outputs(tmp_path) == {short, long}


DRY_RUN = """Building DAG of jobs...
[Sun Nov 29 09:21:09 2026]
rule evaluate_table2:
    input: results/infer/tiny_test/predictions.csv
    output: results/evaluate/tiny_test/table2.csv, results/evaluate/tiny_test/roc.png
    log: logs/evaluate/tiny_test/table2.log
    jobid: 18
    benchmark: results/benchmarks/evaluate/tiny_test/table2.tsv
    reason: Incomplete output files detected
    wildcards: cohort=tiny_test
    resources: tmpdir=<TBD>
[Sun Nov 29 09:21:09 2026]
localrule all:
    input: results/evaluate/tiny_test/table2.csv
    jobid: 0
    reason: Input files updated by another job: results/evaluate/tiny_test/table2.csv
"""


def test_dry_run_plan_is_parsed():
    jobs = planned_jobs(DRY_RUN)
    assert [j.rule for j in jobs] == ["evaluate_table2", "all"]
    table2 = jobs[0]
    assert table2.wildcards == {"cohort": "tiny_test"}
    assert table2.outputs == ["results/evaluate/tiny_test/table2.csv", "results/evaluate/tiny_test/roc.png"]
    assert table2.extra == ["logs/evaluate/tiny_test/table2.log", "results/benchmarks/evaluate/tiny_test/table2.tsv"]
    assert "Incomplete" in table2.reason
    assert jobs[1].outputs == []


COUNTER = """
import sys, time
from pathlib import Path
folder = Path(sys.argv[1])
(folder / "started").write_text("")
time.sleep(0.5)
for step in range(2000):
    (folder / f"step{step}").write_text(str(step))
    if step == 5:
        time.sleep(0.05)  # the window the kill must hit: 50 ms; every other step is far shorter
    (folder / f"step{step}").unlink()
(folder / "finished").write_text("")
"""


def test_kill_point_is_hit_inside_a_short_window(tmp_path):
    """A child that holds the state 'step5 exists' for only ~50 ms (and then runs on without a
    pause) is caught in that state, 3 times in a row (no timing luck), and is dead afterwards."""
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        run_and_kill(
            [sys.executable, "-c", COUNTER, str(folder)], tmp_path, dict(os.environ),
            arm=lambda _root, f=folder: (f / "started").exists(),
            fire=lambda _root, f=folder: (f / "step5").exists(),
            log=tmp_path / f"log{attempt}.txt", timeout=60,
        )
        time.sleep(0.3)
        assert sorted(p.name for p in folder.iterdir()) == ["started", "step5"]


SPAWNER = """
import subprocess, sys
from pathlib import Path
folder = Path(sys.argv[1])
(folder / "started").write_text("")
for step in range(100000):
    subprocess.run(["true"])  # Python's subprocess forks with vfork: the parent waits in 'D'
    (folder / "count").write_text(str(step))
"""


def test_a_group_caught_between_vfork_and_exec_still_freezes(tmp_path):
    """A process that keeps spawning children is frozen many times in a row. A SIGSTOP that
    lands between a vfork and the child's exec leaves the parent in uninterruptible sleep until
    the (now stopped) child execs; the group counts as frozen then, instead of timing out (this
    failed CI once as 'process group did not stop: {...: 'D'}')."""
    fires = []

    def fire(_root: Path) -> bool:
        fires.append(1)
        return len(fires) >= 300  # 300 freeze/thaw cycles over a spawning loop

    run_and_kill([sys.executable, "-c", SPAWNER, str(tmp_path)], tmp_path, dict(os.environ),
                 arm=lambda _root: (tmp_path / "count").exists(), fire=fire,
                 log=tmp_path / "log.txt", timeout=120, time_slice=0.001)
    assert len(fires) == 300
