"""The preprocessing stage's view of the ingest subject sheet (results/ingest/<cohort>/subjects.tsv)."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from glioma.errors import InputError
from glioma.ids import validate_id
from glioma.preprocess.config import PreprocessConfig
from glioma.schema import SEQUENCES

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=16)
def _rows_by_subject(path: str, mtime_ns: int, size: int) -> dict[str, dict[str, str]]:
    """The sheet's rows by subject (first row wins), read once per version of the file: the
    workflow's input function calls :func:`subject_inputs` once per patient (see README.md)."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    rows: dict[str, dict[str, str]] = {}
    for record in frame.to_dict("records"):
        rows.setdefault(record["subject"], record)
    return rows


def _row(sheet: str | Path, subject: str) -> dict[str, str]:
    stat = os.stat(sheet)
    row = _rows_by_subject(os.path.abspath(sheet), stat.st_mtime_ns, stat.st_size).get(subject)
    if row is None:
        raise InputError("not in the subject sheet", subject=subject, path=sheet)
    return dict(row)


def subject_inputs(sheet: str | Path, subject: str) -> dict[str, str]:
    """Native file paths of one patient (t1, t1c, t2, flair and seg when there is one), resolved
    relative to the sheet's folder as the sheet defines (paths relative to the working directory)."""
    validate_id(subject)
    row = _row(sheet, subject)
    folder = Path(sheet).parent
    paths = {}
    for key in (*SEQUENCES, "seg"):
        value = (row.get(key) or "").strip()
        if value:
            paths[key] = str(folder / value)
    return paths


def preprocess_from_sheet(
    sheet: str | Path,
    subject: str,
    out_dir: str | Path,
    *,
    cohort: str = "",
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Preprocess the sheet's patient ``subject`` into ``out_dir`` (the Snakemake entry point)."""
    from glioma.preprocess.pipeline import preprocess_subject

    config = PreprocessConfig.from_mapping(settings)
    row = _row(sheet, subject)
    paths = subject_inputs(sheet, subject)
    seg = paths.pop("seg", None)
    seg_reference = (row.get("seg_reference") or "").strip() or "t1c"
    if (row.get("segmentation") or "").strip() == "none":
        seg = None
    return preprocess_subject(
        paths, out_dir, subject=subject, config=config, seg=seg, seg_reference=seg_reference, cohort=cohort
    )
