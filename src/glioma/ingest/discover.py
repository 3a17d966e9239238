"""Discover a cohort's patients, validate their IDs, unify their labels, record early exclusions.

Writes ``discovered.tsv`` (one row per patient folder found: ``subject, raw_name, location,
status, reason, detail``; status ``ok`` or ``excluded``) and ``labels.tsv`` (``subject`` plus the
unified label columns of :data:`glioma.io.tables.TABLE_COLUMNS`, empty = unknown).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from glioma.errors import ConfigError
from glioma.ids import validate_id
from glioma.ingest.cohort import Cohort
from glioma.io import atomic
from glioma.io.tables import TABLE_COLUMNS, unify_labels
from glioma.schema import SEQUENCES

log = logging.getLogger(__name__)

DISCOVERED_COLUMNS: tuple[str, ...] = ("subject", "raw_name", "location", "status", "reason", "detail")
LABELS_COLUMNS: tuple[str, ...] = ("subject", *TABLE_COLUMNS)

#: folder names under a raw root that are never patients
RESERVED = {"segmentations", "labels", "clinical", "metadata"}
BRATS_SUFFIXES = ("t1", "t1ce", "t2", "flair", "seg")


@dataclass
class Discovered:
    subject: str  # empty when the folder name is not a valid ID
    raw_name: str  # the folder name, escaped (safe in a TSV)
    location: str  # folder relative to the raw root
    status: str = "ok"
    reason: str = ""
    detail: str = ""


def _escape(name: str) -> str:
    return name.encode("unicode_escape").decode("ascii")


def _is_nifti(name: str) -> bool:
    return name.endswith(".nii.gz") or name.endswith(".nii")


def _brats_folders(root: Path, depth: int = 2) -> list[tuple[str, Path]]:
    """Patient folders of a BraTS download: a folder holding ``<name>_<suffix>.nii[.gz]`` files.

    Container folders (BraTS 2019's ``HGG/`` and ``LGG/``) are searched one level deeper.
    """
    found: list[tuple[str, Path]] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        names = [p.name for p in child.iterdir() if p.is_file()]
        if any(_is_nifti(n) and n.split(".nii")[0].rsplit("_", 1)[-1].lower() in BRATS_SUFFIXES for n in names):
            found.append((child.name, child))
        elif depth > 1 and child.name not in RESERVED:
            found.extend(_brats_folders(child, depth - 1))
    return found


def patient_folders(cohort: Cohort) -> list[tuple[str, Path]]:
    """``(folder name, folder)`` of every patient of the cohort's raw root, by layout."""
    root = cohort.raw_root
    if not root.is_dir():
        raise ConfigError(f"cohort file {cohort.file}: key raw_root: folder {str(root)!r} does not exist")
    if cohort.layout == "brats_nifti":
        folders = _brats_folders(root)
    else:
        folders = [
            (p.name, p) for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and p.name not in RESERVED
        ]
    if cohort.patient_id_pattern:
        pattern = re.compile(cohort.patient_id_pattern)
        kept = [(n, p) for n, p in folders if pattern.search(n)]
        if len(kept) < len(folders):
            log.info("%s: %d folders do not match patient_id_pattern and are ignored",
                     cohort.name, len(folders) - len(kept))
        folders = kept
    return folders


def discover(cohort: Cohort) -> tuple[list[Discovered], pd.DataFrame]:
    """Find the patients and apply the checks that need no images (IDs, labels, pre-op)."""
    rows: list[Discovered] = []
    for name, folder in patient_folders(cohort):
        location = str(folder.relative_to(cohort.raw_root))
        row = Discovered(subject="", raw_name=_escape(name), location=_escape(location))
        try:
            row.subject = validate_id(name)
        except ValueError as err:
            row.status, row.reason = "excluded", "invalid_id"
            row.detail = f"folder {_escape(location)!r} in {str(cohort.raw_root)!r}: {err}"
            log.warning("%s: %s", cohort.name, row.detail)
        rows.append(row)

    by_key: dict[str, list[Discovered]] = defaultdict(list)
    for row in rows:
        if row.subject:
            by_key[row.subject.lower()].append(row)
    for group in by_key.values():
        if len(group) > 1:
            places = ", ".join(repr(r.location) for r in group)
            for row in group:
                row.status, row.reason = "excluded", "duplicate_id"
                row.detail = f"patient {row.subject!r}: ID occurs {len(group)} times (folders {places})"
            log.warning("%s: %s", cohort.name, group[0].detail)
    # Keep one row per exact subject ID so the subject sheet has unique IDs.
    seen: set[str] = set()
    unique: list[Discovered] = []
    for row in rows:
        if row.subject and row.subject in seen:
            row.subject = ""
        if row.subject:
            seen.add(row.subject)
        unique.append(row)
    rows = unique

    subjects = [r.subject for r in rows if r.subject]
    unified = unify_labels(cohort.label_tables, subjects, cohort=cohort.name)
    by_subject = {r.subject: r for r in rows if r.subject}
    for subject, (category, message) in unified.problems.items():
        row = by_subject[subject]
        if row.status == "ok":
            row.status, row.reason, row.detail = "excluded", category, message
            log.warning("%s: %s", cohort.name, message)
    if cohort.preoperative_only:
        for subject, values in unified.labels.items():
            row = by_subject[subject]
            if row.status == "ok" and values.get("preoperative") == 0:
                row.status, row.reason = "excluded", "postoperative"
                row.detail = f"patient {subject!r}: the label table marks the imaging as postoperative"
    labels = pd.DataFrame(
        [{"subject": s, **{c: unified.labels[s].get(c) for c in TABLE_COLUMNS}} for s in subjects],
        columns=list(LABELS_COLUMNS),
    )
    n_ok = sum(r.status == "ok" for r in rows)
    log.info("%s: %d patient folders, %d go on to image ingest", cohort.name, len(rows), n_ok)
    return rows, labels


def _format(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_discovery(rows: list[Discovered], labels: pd.DataFrame, discovered_tsv: str | Path,
                    labels_tsv: str | Path) -> None:
    """Write ``labels.tsv`` then ``discovered.tsv`` (the checkpoint's main output), atomically."""
    frame = pd.DataFrame([asdict(r) for r in rows], columns=list(DISCOVERED_COLUMNS))
    atomic.write_table(labels_tsv, labels.map(_format) if len(labels) else labels)
    atomic.write_table(discovered_tsv, frame)


def read_discovered(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def read_labels(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


__all__ = ["DISCOVERED_COLUMNS", "LABELS_COLUMNS", "SEQUENCES", "discover", "write_discovery"]
