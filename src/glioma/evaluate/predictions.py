"""Read prediction tables in our schema or the published PrognosAIs format into one frame.

The internal frame has exactly ``schema.PREDICTION_COLUMNS``: ``cohort`` and ``subject`` as
strings, the truth columns ``idh``, ``codeletion``, ``grade`` as pandas nullable ``Int64``
(``<NA>`` = unknown) and the six score columns as floats.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from glioma import schema
from glioma.errors import InputError
from glioma.ids import is_valid_id

log = logging.getLogger(__name__)

TRUTH_COLUMNS: tuple[str, ...] = ("idh", "codeletion", "grade")
SCORE_COLUMNS: tuple[str, ...] = tuple(c for c in schema.PREDICTION_COLUMNS if c.startswith("score_"))

#: PrognosAIs column -> our column
PROGNOSAIS_TO_OURS: dict[str, str] = {
    "Data_collection": "cohort",
    "Patient": "subject",
    "IDH_mutated": "idh",
    "Prediction_score_IDH_wildtype": "score_idh_wildtype",
    "Prediction_score_IDH_mutated": "score_idh_mutated",
    "1p19q_codeleted": "codeletion",
    "Prediction_score_1p19q_intact": "score_1p19q_intact",
    "Prediction_score_1p19q_codeleted": "score_1p19q_codeleted",
    "Grade": "grade",
    "Prediction_score_grade_2": "score_grade_2",
    "Prediction_score_grade_3": "score_grade_3",
    "Prediction_score_grade_4": "score_grade_4",
}

_ALLOWED = {"idh": {0, 1}, "codeletion": {0, 1}, "grade": {2, 3, 4}}


def detect_format(columns: list[str] | pd.Index) -> str:
    """``"glioma"`` or ``"prognosais"`` from a table's header; ``InputError`` otherwise."""
    cols = set(columns)
    if set(schema.PREDICTION_COLUMNS) <= cols:
        return "glioma"
    if set(schema.PROGNOSAIS_COLUMNS) <= cols:
        return "prognosais"
    missing_ours = sorted(set(schema.PREDICTION_COLUMNS) - cols)
    raise InputError(
        "not a predictions table: neither our schema (missing "
        f"{', '.join(missing_ours)}) nor the PrognosAIs format"
    )


def normalize_predictions(frame: pd.DataFrame, *, source: str | Path | None = None) -> pd.DataFrame:
    """Convert a raw predictions frame (either format, all cells as read) to the internal frame."""
    fmt = detect_format(frame.columns)
    if fmt == "prognosais":
        frame = frame.loc[:, list(schema.PROGNOSAIS_COLUMNS)].rename(columns=PROGNOSAIS_TO_OURS)
    else:
        frame = frame.loc[:, list(schema.PREDICTION_COLUMNS)].copy()
    out = pd.DataFrame(index=range(len(frame)))
    out["cohort"] = frame["cohort"].astype(str).str.strip().to_numpy()
    out["subject"] = frame["subject"].astype(str).str.strip().to_numpy()
    for col in TRUTH_COLUMNS:
        raw = frame[col].astype("string").str.strip()
        raw = raw.mask(raw.isin(["", "-1", "-1.0", "nan", "NA"]))
        values = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & values.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"column {col!r}: value {raw.iloc[i]!r} is not a label", subject=out["subject"].iloc[i], path=source)
        ints = values.round().astype("Int64")
        invalid = ints.notna() & ~ints.isin(list(_ALLOWED[col]))
        if invalid.any():
            i = int(np.flatnonzero(invalid.to_numpy())[0])
            raise InputError(f"column {col!r}: value {ints.iloc[i]} is not one of {sorted(_ALLOWED[col])}", subject=out["subject"].iloc[i], path=source)
        out[col] = ints.to_numpy()
    for col in SCORE_COLUMNS:
        values = pd.to_numeric(frame[col], errors="coerce").astype(float)
        if values.isna().any():
            i = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise InputError(f"column {col!r}: missing or non-numeric score", subject=out["subject"].iloc[i], path=source)
        out[col] = values.to_numpy()
    for col in TRUTH_COLUMNS:
        out[col] = out[col].astype("Int64")
    duplicated = out.duplicated(["cohort", "subject"])
    if duplicated.any():
        raise InputError("duplicate patient row", subject=out.loc[duplicated, "subject"].iloc[0], path=source)
    odd = [s for s in out["subject"] if not is_valid_id(s)]
    if odd:
        # Published barcodes are kept as they are (one is spelled TCGA-HT_A614); only warn.
        log.warning("%d subject IDs are not valid path IDs (e.g. %r)", len(odd), odd[0])
    return out


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a predictions CSV/TSV in either format; IDs always stay strings."""
    path = Path(path)
    if not path.is_file():
        raise InputError("predictions file does not exist", path=path)
    sep = "\t" if path.suffix == ".tsv" else ","
    raw = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    try:
        frame = normalize_predictions(raw, source=path)
    except InputError as err:
        if err.path is None:
            raise InputError(err.problem, subject=err.subject, path=path) from err
        raise
    log.info("read %d patients from %s (%s format)", len(frame), path, detect_format(raw.columns))
    return frame
