import json
from pathlib import Path

import pytest

from glioma.io.atomic import atomic_path, save_figure, write_json, write_text


def test_write_replaces_atomically(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text(target, "first")
    write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("disk full")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_temp_keeps_double_suffix(tmp_path):
    with atomic_path(tmp_path / "img.nii.gz") as tmp:
        assert tmp.name.endswith(".nii.gz")
        tmp.write_bytes(b"x")
    assert (tmp_path / "img.nii.gz").read_bytes() == b"x"


def test_pdf_figures_are_byte_identical_across_saves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    first = save_figure(fig, tmp_path / "a.pdf").read_bytes()
    second = save_figure(fig, tmp_path / "b.pdf").read_bytes()
    plt.close(fig)
    assert b"/CreationDate" not in first
    assert first == second


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_get_the_umask_mode_not_mkstemps_0600(tmp_path, mask):
    import os
    import stat

    old = os.umask(mask)
    try:
        target = write_text(tmp_path / f"out{mask:o}.txt", "x")
        with atomic_path(tmp_path / f"lib{mask:o}.nii.gz") as tmp:
            tmp.write_bytes(b"written by a library into the temp file")
        plain = tmp_path / f"plain{mask:o}.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    expected = stat.S_IMODE(plain.stat().st_mode)
    assert expected == 0o666 & ~mask
    assert stat.S_IMODE(target.stat().st_mode) == expected
    assert stat.S_IMODE((tmp_path / f"lib{mask:o}.nii.gz").stat().st_mode) == expected


def test_temp_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    """A writer killed with SIGKILL (no cleanup runs) leaves its hidden temp file; the next
    write of the same target removes it, while a running writer's temp and other files stay."""
    import os
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "table.tsv"
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from glioma.io.atomic import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    assert left.is_file() and left.name.startswith(".table.tsv.") and f"-{child.pid}." in left.name
    live = tmp_path / left.name.replace(f"-{child.pid}.", f"-{os.getpid()}.")  # this process: running
    live.write_text("mine")
    other = tmp_path / ".table.tsv.notes"
    other.write_text("not a temp file")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert left.is_file()  # nothing cleaned up at the kill
    time.sleep(0.1)
    write_text(target, "complete")
    assert target.read_text() == "complete"
    assert not left.exists()
    assert live.is_file() and other.is_file()
