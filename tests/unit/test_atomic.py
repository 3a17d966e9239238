import json

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
