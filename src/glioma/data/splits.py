"""Cohort assembly: who trains, who validates, who is tested.

Reads every cohort's subject sheet (``results/ingest/<cohort>/subjects.tsv``) and the ``qc.json``
of each preprocessed patient, keeps the included patients whose preprocessing passed QC, and
writes one editable splits table (like nnU-Net's ``splits_final.json``)::

    cohort  subject  role  fold  idh  codeletion  grade  segmentation  institute

``role`` is the cohort's role (``train`` / ``test``); ``fold`` is ``train`` or ``val`` for the
training cohorts (a stratified, seeded 15% validation hold-out) and ``test`` for test cohorts.
Labels keep the unified encoding of :mod:`glioma.schema` (empty = unknown).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glioma.errors import InputError
from glioma.ids import validate_id
from glioma.schema import PREPROCESS_FILES

log = logging.getLogger(__name__)

SPLIT_COLUMNS: tuple[str, ...] = (
    "cohort",
    "subject",
    "role",
    "fold",
    "idh",
    "codeletion",
    "grade",
    "segmentation",
    "institute",
)
EXCLUSION_COLUMNS: tuple[str, ...] = ("cohort", "subject", "stage", "reason")
FOLDS: tuple[str, ...] = ("train", "val", "test")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a TSV/CSV with every column as text (IDs stay strings; empty = "")."""
    path = Path(path)
    sep = "\t" if path.suffix == ".tsv" else ","
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)


def _label(value: str) -> str:
    """Normalise a label cell: '1', '1.0' -> '1'; empty stays empty."""
    value = str(value).strip()
    if value == "" or value.lower() in {"nan", "na"}:
        return ""
    return str(int(float(value)))


def read_qc(folder: Path, subject: str) -> None:
    """Raise :class:`InputError` unless ``folder/qc.json`` exists and says ``status: ok``."""
    qc_path = folder / PREPROCESS_FILES["qc"]
    if not qc_path.is_file():
        raise InputError("preprocessing output has no qc.json", subject=subject, path=qc_path)
    try:
        qc = json.loads(qc_path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"unreadable qc.json ({err})", subject=subject, path=qc_path) from err
    if qc.get("status") != "ok":
        reason = qc.get("reason") or "no reason given"
        raise InputError(f"excluded by preprocessing QC: {reason}", subject=subject, path=qc_path)


def stratified_validation(
    strata: Sequence[str], fraction: float, seed: int
) -> np.ndarray:
    """Boolean mask choosing ``round(fraction * n)`` validation samples, stratified by ``strata``.

    Samples are shuffled within each stratum (seeded), strata are laid end to end and every
    ``1/fraction``-th sample is taken: each stratum gets its share up to rounding, the total is
    exact.
    """
    n = len(strata)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    order: list[int] = []
    strata_arr = np.asarray(list(strata), dtype=object)
    for stratum in sorted(set(strata_arr.tolist())):
        members = np.flatnonzero(strata_arr == stratum)
        order.extend(rng.permutation(members).tolist())
    n_val = int(round(fraction * n))
    mask = np.zeros(n, dtype=bool)
    if n_val == 0:
        return mask
    offset = rng.uniform(0, n / n_val)
    positions = np.floor(offset + np.arange(n_val) * (n / n_val)).astype(int) % n
    mask[np.asarray(order)[positions]] = True
    return mask


def assemble_splits(
    sheets: Mapping[str, str | Path],
    roles: Mapping[str, str],
    preprocess_root: str | Path,
    validation_fraction: float = 0.15,
    seed: int = 42,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the splits table and the table of patients left out at this stage.

    ``sheets``: cohort -> subject sheet; ``roles``: cohort -> ``train`` / ``test``;
    ``preprocess_root``: folder holding ``<cohort>/<subject>/qc.json``.
    """
    preprocess_root = Path(preprocess_root)
    rows: list[dict[str, str]] = []
    excluded: list[dict[str, str]] = []
    for cohort, sheet_path in sheets.items():
        validate_id(cohort, what="cohort name")
        role = roles[cohort]
        if role not in {"train", "test"}:
            raise ValueError(f"cohort {cohort!r}: role must be train or test, got {role!r}")
        sheet = read_table(sheet_path)
        for record in sheet.to_dict("records"):
            subject = validate_id(record["subject"])
            if _label(record.get("included", "1")) != "1":
                continue  # excluded at ingest; already counted in the inclusion summary
            try:
                read_qc(preprocess_root / cohort / subject, subject)
            except InputError as err:
                log.warning("%s/%s left out: %s", cohort, subject, err)
                excluded.append(
                    {"cohort": cohort, "subject": subject, "stage": "cohort", "reason": str(err)}
                )
                continue
            rows.append(
                {
                    "cohort": cohort,
                    "subject": subject,
                    "role": role,
                    "fold": "test" if role == "test" else "train",
                    "idh": _label(record.get("idh", "")),
                    "codeletion": _label(record.get("codeletion", "")),
                    "grade": _label(record.get("grade", "")),
                    "segmentation": record.get("segmentation", "") or "none",
                    "institute": record.get("institute", ""),
                }
            )
    splits = pd.DataFrame(rows, columns=list(SPLIT_COLUMNS))
    train = splits.index[splits["role"] == "train"]
    if len(train):
        strata = (
            splits.loc[train, ["idh", "codeletion", "grade"]]
            .replace("", "u")
            .agg("/".join, axis=1)
            .tolist()
        )
        val = stratified_validation(strata, validation_fraction, seed)
        splits.loc[train[val], "fold"] = "val"
    log.info(
        "splits: %s; %d left out",
        ", ".join(f"{k}={v}" for k, v in splits["fold"].value_counts().sort_index().items()),
        len(excluded),
    )
    return splits, pd.DataFrame(excluded, columns=list(EXCLUSION_COLUMNS))


def read_splits(path: str | Path) -> pd.DataFrame:
    """Read (and check) a splits table, possibly edited by hand."""
    splits = read_table(path)
    missing = [c for c in SPLIT_COLUMNS if c not in splits.columns]
    if missing:
        raise InputError(f"splits table lacks columns {missing}", path=path)
    bad = sorted(set(splits["fold"]) - set(FOLDS))
    if bad:
        raise InputError(f"unknown fold values {bad} (allowed: {FOLDS})", path=path)
    for subject in splits["subject"]:
        validate_id(subject)
    duplicated = splits.duplicated(["cohort", "subject"])
    if duplicated.any():
        first = splits.loc[duplicated].iloc[0]
        raise InputError(
            f"patient listed twice in the splits table ({first['cohort']}/{first['subject']})",
            path=path,
        )
    return splits


def cohort_table(splits: pd.DataFrame) -> pd.DataFrame:
    """A small Table 1: patients and label counts per fold (unknown counted separately)."""
    rows = []
    for fold, group in splits.groupby("fold", sort=False):
        row: dict[str, object] = {"fold": fold, "patients": len(group)}
        for column, values in (("idh", "01"), ("codeletion", "01"), ("grade", "234")):
            for value in values:
                row[f"{column}_{value}"] = int((group[column] == value).sum())
            row[f"{column}_unknown"] = int((group[column] == "").sum())
        row["with_segmentation"] = int((group["segmentation"] != "none").sum())
        rows.append(row)
    return pd.DataFrame(rows)
