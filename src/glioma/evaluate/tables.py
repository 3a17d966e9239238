"""Table 1: patient characteristics per set (train cohorts together, test cohorts together)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from glioma import schema
from glioma.errors import InputError
from glioma.evaluate.subtypes import WHO2016_CLASSES, who2016

log = logging.getLogger(__name__)

UNKNOWN = "unknown"


def read_subject_sheet(path: str | Path) -> pd.DataFrame:
    """A subject sheet with every column as text (IDs stay strings); empty cells are NaN."""
    path = Path(path)
    if not path.is_file():
        raise InputError("subject sheet is missing", path=path)
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in ("cohort", "subject", "included", *schema.LABEL_COLUMNS, "segmentation") if c not in frame.columns]
    if missing:
        raise InputError(f"subject sheet lacks columns {missing}", path=path)
    return frame


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def characteristics(frame: pd.DataFrame) -> pd.DataFrame:
    """One categorical column per Table 1 characteristic (``unknown`` where missing)."""
    age = _num(frame["age"])
    idh, codel, grade = _num(frame["idh"]), _num(frame["codeletion"]), _num(frame["grade"])
    out = pd.DataFrame(index=frame.index)
    out["sex"] = frame["sex"].map({"M": "male", "F": "female"}).fillna(UNKNOWN)
    out["age"] = np.select([age < 40, age <= 60, age > 60], ["<40", "40-60", ">60"], default=UNKNOWN)
    out["IDH"] = idh.map({0: "wildtype", 1: "mutated"}).fillna(UNKNOWN)
    out["1p/19q"] = codel.map({0: "intact", 1: "co-deleted"}).fillna(UNKNOWN)
    out["grade"] = grade.map({2: "II", 3: "III", 4: "IV"}).fillna(UNKNOWN)
    out["WHO 2016 subtype"] = [
        who2016(*(None if pd.isna(v) else int(v) for v in t)) or UNKNOWN for t in zip(idh, codel, grade, strict=True)
    ]
    out["segmentation"] = frame["segmentation"].fillna("none")
    return out


CATEGORIES: dict[str, tuple[str, ...]] = {
    "sex": ("male", "female", UNKNOWN),
    "age": ("<40", "40-60", ">60", UNKNOWN),
    "IDH": ("wildtype", "mutated", UNKNOWN),
    "1p/19q": ("intact", "co-deleted", UNKNOWN),
    "grade": ("II", "III", "IV", UNKNOWN),
    "WHO 2016 subtype": (*WHO2016_CLASSES, UNKNOWN),
    "segmentation": ("manual", "automatic", "none"),
}


def table1(sheets: list[tuple[str | Path, str]]) -> pd.DataFrame:
    """Table 1 from ``(subject sheet, role)`` pairs; only included patients are counted.

    Columns: ``characteristic, category, <role>_n, <role>_pct`` for each role (``train``,
    ``test``) in first-seen order; the first row is the number of patients.
    """
    per_role: dict[str, list[pd.DataFrame]] = {}
    for path, role in sheets:
        sheet = read_subject_sheet(path)
        included = sheet[_num(sheet["included"]) == 1]
        per_role.setdefault(role, []).append(included)
    chars = {role: characteristics(pd.concat(frames, ignore_index=True)) for role, frames in per_role.items()}
    rows = [{"characteristic": "patients", "category": "N"}]
    for name, cats in CATEGORIES.items():
        rows += [{"characteristic": name, "category": c} for c in cats]
    table = pd.DataFrame(rows)
    for role, c in chars.items():
        n_total = len(c)
        counts = [n_total] + [int((c[name] == cat).sum()) for name, cats in CATEGORIES.items() for cat in cats]
        table[f"{role}_n"] = counts
        table[f"{role}_pct"] = [100.0 * k / n_total if n_total else np.nan for k in counts]
    return table
