"""Aggregate a cohort's per-patient records into its subject sheet and exclusion list, and all
cohorts' into the inclusion summary (the data behind the paper's Fig. 2)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from glioma.ingest.discover import read_discovered, read_labels
from glioma.io import atomic
from glioma.schema import (
    INCLUSION_COUNT_REASONS,
    INCLUSION_SUMMARY_COLUMNS,
    LABEL_COLUMNS,
    SEQUENCES,
    SUBJECT_SHEET_COLUMNS,
)

log = logging.getLogger(__name__)

EXCLUSION_COLUMNS: tuple[str, ...] = ("cohort", "subject", "raw_name", "stage", "reason", "detail")


def build_sheet(cohort: str, discovered_tsv: str | Path, labels_tsv: str | Path, records: Iterable[str | Path],
                *, institute: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Subject sheet (schema.SUBJECT_SHEET_COLUMNS) and exclusions (EXCLUSION_COLUMNS).

    ``records`` are the ``record.json`` files of the patients that discovery passed on; image
    paths in the sheet are relative to the sheet's folder (``<subject>/t1.nii.gz``).
    """
    discovered = read_discovered(discovered_tsv)
    labels = read_labels(labels_tsv).set_index("subject") if Path(labels_tsv).exists() else pd.DataFrame()
    by_subject: dict[str, dict] = {}
    for path in records:
        record = json.loads(Path(path).read_text())
        by_subject[record["subject"]] = record
    sheet_rows, exclusion_rows = [], []
    for row in discovered.itertuples(index=False):
        if row.status != "ok":
            exclusion_rows.append({"cohort": cohort, "subject": row.subject, "raw_name": row.raw_name,
                                   "stage": "discover", "reason": row.reason, "detail": row.detail})
            record = {"status": "excluded", "reason": row.reason, "detail": row.detail}
        else:
            record = by_subject.get(row.subject)
            if record is None:
                raise FileNotFoundError(f"no record.json given for discovered patient {row.subject!r}")
            if record["status"] != "included":
                exclusion_rows.append({"cohort": cohort, "subject": row.subject, "raw_name": row.raw_name,
                                       "stage": "subject", "reason": record["reason"], "detail": record["detail"]})
        if not row.subject:
            continue  # an invalid ID is not a row of the sheet (it is in exclusions.tsv)
        included = record["status"] == "included"
        values = labels.loc[row.subject] if row.subject in labels.index else None
        out = {"cohort": cohort, "subject": row.subject, "included": int(included),
               "exclusion_reason": "" if included else f"{record['reason']}: {record['detail']}"}
        for column in LABEL_COLUMNS:
            out[column] = "" if values is None else values[column]
        out["segmentation"] = record.get("segmentation", "none") if included else "none"
        out["seg_reference"] = record.get("seg_reference", "") if included else ""
        for sequence in SEQUENCES:
            present = included and sequence in record.get("sequences", {})
            out[sequence] = f"{row.subject}/{sequence}.nii.gz" if present else ""
        out["seg"] = f"{row.subject}/seg.nii.gz" if included and record.get("seg") else ""
        table_institute = "" if values is None else values.get("institute", "")
        out["institute"] = table_institute or institute
        sheet_rows.append(out)
    sheet = pd.DataFrame(sheet_rows, columns=list(SUBJECT_SHEET_COLUMNS))
    exclusions = pd.DataFrame(exclusion_rows, columns=list(EXCLUSION_COLUMNS))
    log.info("%s: %d included, %d excluded", cohort, int(sheet["included"].astype(int).sum()) if len(sheet) else 0,
             len(exclusions))
    return sheet, exclusions


def write_sheet(sheet: pd.DataFrame, exclusions: pd.DataFrame, subjects_tsv: str | Path,
                exclusions_tsv: str | Path) -> None:
    atomic.write_table(exclusions_tsv, exclusions)
    atomic.write_table(subjects_tsv, sheet)


def inclusion_summary(cohorts: Iterable[tuple[str, str | Path, str | Path]]) -> pd.DataFrame:
    """Counts per cohort, stage and reason (schema.INCLUSION_SUMMARY_COLUMNS).

    ``cohorts``: ``(name, subjects.tsv, exclusions.tsv)``. Rows per cohort: ``discover/found``
    (patient folders found), one row per exclusion stage and reason, and ``ingest/included``;
    found = included + all exclusions.
    """
    rows = []
    for cohort, sheet_path, exclusions_path in cohorts:
        sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
        exclusions = pd.read_csv(exclusions_path, sep="\t", dtype=str, keep_default_na=False)
        n_included = int((sheet["included"] == "1").sum())
        rows.append({"cohort": cohort, "stage": "discover", "reason": INCLUSION_COUNT_REASONS[0], "n": n_included + len(exclusions)})
        for (stage, reason), group in exclusions.groupby(["stage", "reason"], sort=True):
            rows.append({"cohort": cohort, "stage": stage, "reason": reason, "n": len(group)})
        rows.append({"cohort": cohort, "stage": "ingest", "reason": INCLUSION_COUNT_REASONS[1], "n": n_included})
    return pd.DataFrame(rows, columns=list(INCLUSION_SUMMARY_COLUMNS))
