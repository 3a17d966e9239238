"""Atomic writes: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a job killed mid-write leaves the old file (or none).
A kill (SIGKILL, a node failure) can leave the hidden temporary file behind; its name carries the
writer's host and process ID (``.<target>.<host>-<pid>.<random>.tmp<suffix>``), and the next write
of the same target removes the leftovers of writers on this host that are no longer running.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask sets it)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: this host in temporary file names (letters, digits and underscores only)
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0]) or "host"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporary files of ``target`` left by killed writers on this host (their
    process is gone); those of running writers and of other hosts stay. Returns the removed."""
    target = Path(target)
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[^/]*\.tmp")
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for path in target.parent.iterdir():
            match = pattern.match(path.name)
            if match and match["host"] == _HOST and not _running(int(match["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is renamed onto ``target``.

    ``suffix`` defaults to the target's full suffix (e.g. ``.nii.gz``) so that libraries choosing
    a format by extension behave.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(target.suffixes)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{_HOST}-{os.getpid()}.", suffix=f".tmp{suffix}",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file 0600; the target gets the mode a plain open() would give
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text(target: str | Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def write_bytes(target: str | Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_json(target: str | Path, obj: Any) -> Path:
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_table(target: str | Path, frame: Any, **kwargs: Any) -> Path:
    """Write a pandas DataFrame as TSV (``.tsv``) or CSV (anything else), atomically."""
    target = Path(target)
    sep = "\t" if target.suffix == ".tsv" else ","
    kwargs.setdefault("index", False)
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, sep=sep, **kwargs)
    return target


def save_figure(fig: Any, target: str | Path, **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (format from the target's extension).

    PDFs get no creation date, so the same figure gives the same bytes on every run.
    """
    target = Path(target)
    kwargs.setdefault("bbox_inches", "tight")
    if target.suffix.lower() == ".pdf":
        kwargs.setdefault("metadata", {"CreationDate": None})
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=target.suffix.lstrip("."), **kwargs)
    return target
