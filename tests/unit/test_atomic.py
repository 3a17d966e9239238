import json
import os

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


def test_next_write_removes_leftovers_of_dead_writers_only(tmp_path):
    import socket
    import subprocess
    import sys

    from glioma.io.atomic import _HOST_SAFE

    target = tmp_path / "table [1].tsv"  # glob metacharacters in the name
    host = _HOST_SAFE.sub("_", socket.gethostname())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    leftovers = {
        "dead": tmp_path / f".{target.name}.{dead_pid}@{host}.abc123.tmp.tsv",
        "alive": tmp_path / f".{target.name}.{os.getpid()}@{host}.def456.tmp.tsv",
        "other_host": tmp_path / f".{target.name}.{dead_pid}@elsewhere.ghi789.tmp.tsv",
        "other_target": tmp_path / f".other.tsv.{dead_pid}@{host}.jkl012.tmp.tsv",
    }
    for path in leftovers.values():
        path.write_text("half")
    write_text(target, "complete\n")
    assert target.read_text() == "complete\n"
    assert not leftovers["dead"].exists()
    assert all(leftovers[k].exists() for k in ("alive", "other_host", "other_target"))
    # the writer's own temporary file is gone too: only the leftovers kept above remain
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [target.name] + [leftovers[k].name for k in ("alive", "other_host", "other_target")])
