"""Helpers of the resilience tests (issue 6): kill a real Snakemake run at a chosen point, read
Snakemake's incomplete-job markers and dry-run plans, compare two runs, scan outputs for PHI.

Kill points are hit exactly, without timing luck: once a cheap *arm* condition holds, the run's
whole process group (Snakemake and every job it started) is stopped with SIGSTOP every few tens
of milliseconds, the *fire* condition is checked on the frozen file system and the group is
continued, until *fire* holds; then the frozen group is snapshotted and killed with SIGKILL. A
job cannot get past a state that lasts longer than one time slice without being seen.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import io
import os
import re
import signal
import struct
import subprocess
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# --- Snakemake's incomplete markers and plans ------------------------------------------------


def incomplete_outputs(root: Path) -> set[str]:
    """Output paths Snakemake has marked incomplete (jobs started and not finished).

    Snakemake keeps one marker per output file under ``.snakemake/incomplete/``, named by the
    URL-safe base64 of the path (split into ``@``-prefixed folders when longer than a file name
    may be).
    """
    folder = root / ".snakemake" / "incomplete"
    paths: set[str] = set()
    if not folder.is_dir():
        return paths
    for marker in folder.rglob("*"):
        if not marker.is_file() or marker.name == "migration_underway":
            continue
        encoded = "".join(part.lstrip("@") for part in marker.relative_to(folder).parts)
        try:
            paths.add(base64.urlsafe_b64decode(encoded).decode())
        except (binascii.Error, UnicodeDecodeError) as err:
            raise AssertionError(f"unreadable Snakemake incomplete marker {marker}: {err}") from err
    return paths


@dataclass
class Job:
    rule: str
    wildcards: dict[str, str]
    outputs: list[str]
    extra: list[str]  # log and benchmark files
    reason: str


def planned_jobs(output: str) -> list[Job]:
    """Jobs a (dry) run printed: rule, wildcards, outputs, log/benchmark files and reason."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:checkpoint|rule) \w+:)", "\n" + output):
        head = re.match(r"(?:local)?(?:checkpoint|rule) (\w+):", block.strip())
        if not head:
            continue

        def field_of(name: str, block: str = block) -> str:
            found = re.search(rf"^\s+{name}: (.*)$", block, flags=re.MULTILINE)
            return found.group(1).strip() if found else ""

        wildcards = dict(item.partition("=")[::2] for item in field_of("wildcards").split(", ") if item)
        split = [p for p in field_of("output").split(", ") if p]
        extra = [p for key in ("log", "benchmark") for p in field_of(key).split(", ") if p]
        jobs.append(Job(head.group(1), wildcards, split, extra, field_of("reason")))
    return jobs


# --- state of a workspace ----------------------------------------------------------------------


@dataclass
class Snapshot:
    """Files under ``results/`` (mtime, size) and the outputs marked incomplete, at one instant."""

    files: dict[str, tuple[int, int]]
    incomplete: set[str]
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def complete(self) -> set[str]:
        return {p for p in self.files if p not in self.incomplete}


def snapshot(root: Path) -> Snapshot:
    files = {}
    for path in (root / "results").rglob("*"):
        if path.is_file():
            stat = path.stat()
            files[path.relative_to(root).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return Snapshot(files, {p for p in incomplete_outputs(root) if p.startswith("results/")})


# --- a run killed at a chosen point -----------------------------------------------------------


def _group_states(pgid: int) -> dict[int, tuple[str, int]]:
    """State letter and parent pid of every process in the group."""
    states = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:
                states[int(stat.parent.name)] = (fields[0], int(fields[1]))
    return states


def _frozen(states: dict[int, tuple[str, int]]) -> bool:
    """Every member is stopped or gone. A member in uninterruptible sleep ('D') counts when one
    of its children is stopped: that is a vfork parent (Python's subprocess uses vfork) waiting
    for a child that was stopped before its exec, and it cannot run on until the child does."""
    stopped = {pid for pid, (state, _) in states.items() if state in "Tt"}
    vfork_parents = {ppid for pid, (_, ppid) in states.items() if pid in stopped}
    return all(state in "TtZX" or (state == "D" and pid in vfork_parents)
               for pid, (state, _) in states.items())


def _stop(pgid: int, timeout: float = 30.0) -> None:
    """SIGSTOP the group and wait until every member is stopped (or gone). The signal is sent
    again while waiting: a process forked while the first one was delivered (a job starting
    just then) did not get it."""
    deadline = time.monotonic() + timeout
    while True:
        os.killpg(pgid, signal.SIGSTOP)
        if _frozen(_group_states(pgid)):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process group {pgid} did not stop: {_group_states(pgid)}")
        time.sleep(0.005)


@dataclass
class KilledRun:
    snapshot: Snapshot
    output: str


def run_and_kill(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    *,
    arm: Callable[[Path], bool],
    fire: Callable[[Path], object],
    log: Path,
    timeout: float = 1500,
    time_slice: float = 0.02,
) -> KilledRun:
    """Run ``command`` in its own process group until ``fire(cwd)`` holds, then SIGKILL the group.

    ``arm`` is polled while the run goes on; once it holds, ``fire`` is only evaluated while
    the group is stopped, so the snapshot taken at the kill is the state ``fire`` saw. A true
    ``fire`` result other than ``True`` is kept in ``snapshot.notes["fire"]``.
    """
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout

    def check_alive(what: str) -> None:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}:\n"
                                 + log.read_text()[-4000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s:\n" + log.read_text()[-4000:])

    try:
        while not arm(cwd):
            check_alive("the kill point was armed")
            time.sleep(0.2)
        while True:
            check_alive("the kill point")
            _stop(proc.pid)
            result = fire(cwd)
            if result:
                state = snapshot(cwd)
                if result is not True:
                    state.notes["fire"] = result
                break
            os.killpg(proc.pid, signal.SIGCONT)
            time.sleep(time_slice)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and every job it runs
            os.killpg(proc.pid, signal.SIGCONT)
        proc.wait(timeout=60)
    return KilledRun(state, log.read_text())


# --- PHI scan ----------------------------------------------------------------------------------

_PNG = b"\x89PNG\r\n\x1a\n"
_DATA_URI = re.compile(rb"base64,([A-Za-z0-9+/_-]{16,}={0,2})")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_PDF_TEXT_OBJECT = re.compile(rb"\bBT\b(.*?)\bET\b", re.DOTALL)
_PDF_STRING = re.compile(rb"\(((?:[^)\\]|\\.)*)\)", re.DOTALL)


def _png_text(data: bytes) -> Iterator[bytes]:
    pos = len(_PNG)
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt":
            yield body
        elif kind == b"zTXt":
            keyword, _, rest = body.partition(b"\0")
            with contextlib.suppress(zlib.error):
                yield keyword + b" " + zlib.decompress(rest[1:])
        elif kind == b"iTXt":
            keyword, _, rest = body.partition(b"\0")
            compressed, rest = rest[:1] == b"\1", rest[2:]
            text = rest.split(b"\0", 2)[-1]
            with contextlib.suppress(zlib.error):
                yield keyword + b" " + (zlib.decompress(text) if compressed else text)


def _nifti1_text_end(head: bytes) -> int | None:
    """End of the header and extensions (vox_offset) if ``head`` starts a NIfTI-1 file."""
    for endian in "<>":
        if len(head) >= 348 and struct.unpack(f"{endian}i", head[:4])[0] == 348 and head[344:347] in (b"n+1", b"ni1"):
            return max(348, int(struct.unpack(f"{endian}f", head[108:112])[0]))
    return None


def _gunzip(data: bytes) -> bytes:
    """The gzip content; of a NIfTI-1 image only the header and extensions (every text field:
    descrip, aux_file, intent_name, extensions such as DICOM or JSON sidecars). The voxel data
    hold numbers, and reading them would make the scan of a study's volumes take minutes."""
    stream = zlib.decompressobj(wbits=31)
    head = stream.decompress(data, 352)
    end = _nifti1_text_end(head)
    if end is None:
        return gzip.decompress(data)
    if end > len(head):
        head += stream.decompress(stream.unconsumed_tail, end - len(head))
    return head[:end]


def readable_layers(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """``data`` and every text hidden inside it: gzip members (NIfTI headers: descrip,
    aux_file, extensions), zip members (torch ``.pt``/``.ckpt``), PDF content streams (text
    runs joined across kerning) and metadata, PNG text chunks, base64 data URIs (the Snakemake
    report embeds every table and figure that way)."""
    inner: list[bytes] = []
    if data[:2] == b"\x1f\x8b" and depth < 4:  # compressed bytes hold no text: only the content
        try:
            yield from readable_layers(_gunzip(data), depth + 1)
            return
        except (OSError, EOFError, zlib.error):
            pass
    yield data
    if depth >= 4:
        return
    if data[:4] == b"PK\x03\x04":
        with contextlib.suppress(zipfile.BadZipFile, OSError), zipfile.ZipFile(io.BytesIO(data)) as archive:
            # torch archives: tensor storages (<archive>/data/<n>) hold numbers, not text
            inner += [archive.read(n) for n in archive.namelist() if not re.search(r"/data/\d+$", n)]
    if data[:5] == b"%PDF-":
        for stream in _PDF_STREAM.finditer(data):
            with contextlib.suppress(zlib.error):
                content = zlib.decompress(stream.group(1))
                inner.append(content)
                # text objects (BT ... ET): the strings of a run joined, kerning between them dropped
                runs = [b"".join(_PDF_STRING.findall(m.group(1))) for m in _PDF_TEXT_OBJECT.finditer(content)]
                inner.append(b"\n".join(runs))
    if data[:8] == _PNG:
        inner += list(_png_text(data))
    for uri in _DATA_URI.finditer(data):
        payload = uri.group(1)
        with contextlib.suppress(binascii.Error, ValueError):
            inner.append(base64.b64decode(payload + b"=" * (-len(payload) % 4),
                                          altchars=b"-_" if b"-" in payload or b"_" in payload else None))
    for blob in inner:
        yield from readable_layers(blob, depth + 1)


def canary_patterns(canaries: Iterable[str]) -> dict[str, re.Pattern[bytes] | bytes]:
    """What to look for per identifying string: the lower-cased bytes (matched ignoring case)
    or, for all-digit values (birth dates), a pattern that needs the value to stand alone (not
    inside a longer number, where it is a coincidence, not a leak); an 8-digit date is also
    looked for as YYYY-MM-DD."""
    patterns: dict[str, re.Pattern[bytes] | bytes] = {}
    for canary in {c.strip() for c in canaries if c.strip()}:
        if canary.isdigit():
            forms = [canary]
            if len(canary) == 8:
                forms.append(f"{canary[:4]}-{canary[4:6]}-{canary[6:]}")
            patterns[canary] = re.compile("|".join(rf"(?<!\d){re.escape(f)}(?!\d)" for f in forms).encode())
        else:
            patterns[canary] = canary.lower().encode("utf-8")
    return patterns


def phi_hits(files: Iterable[Path], canaries: Iterable[str]) -> list[tuple[str, str]]:
    """(file, identifying string) for every canary found in any readable layer of ``files``."""
    patterns = canary_patterns(canaries)
    hits = []
    for path in files:
        found: set[str] = set()
        for layer in readable_layers(path.read_bytes()):
            lower = layer.lower()  # ASCII letters only: binary data stay as they are
            for canary, pattern in patterns.items():
                if canary not in found and (pattern in lower if isinstance(pattern, bytes) else pattern.search(layer)):
                    found.add(canary)
        hits += [(str(path), c) for c in sorted(found)]
    return hits
