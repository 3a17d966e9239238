"""The ingest steps as functions of paths: what the CLI and the workflow adapters call."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from glioma.ingest.cohort import load_cohort
from glioma.ingest.discover import discover, read_discovered, write_discovery
from glioma.ingest.sheet import build_sheet, inclusion_summary, write_sheet
from glioma.ingest.subject import ingest_subject
from glioma.io import atomic

log = logging.getLogger(__name__)


def run_discover(cohort_file: str | Path, discovered_tsv: str | Path, labels_tsv: str | Path) -> None:
    cohort = load_cohort(cohort_file)
    rows, labels = discover(cohort)
    write_discovery(rows, labels, discovered_tsv, labels_tsv)


def run_subject(cohort_file: str | Path, discovered_tsv: str | Path, subject: str, out_dir: str | Path) -> dict:
    cohort = load_cohort(cohort_file)
    discovered = read_discovered(discovered_tsv)
    match = discovered[(discovered["subject"] == subject) & (discovered["status"] == "ok")]
    if len(match) != 1:
        raise ValueError(f"patient {subject!r} is not a discovered, valid patient of {discovered_tsv}")
    return ingest_subject(cohort, subject, match.iloc[0]["location"], out_dir)


def run_sheet(cohort_file: str | Path, discovered_tsv: str | Path, labels_tsv: str | Path,
              records: Iterable[str | Path], subjects_tsv: str | Path, exclusions_tsv: str | Path) -> None:
    cohort = load_cohort(cohort_file)
    sheet, exclusions = build_sheet(cohort.name, discovered_tsv, labels_tsv, records, institute=cohort.institute)
    write_sheet(sheet, exclusions, subjects_tsv, exclusions_tsv)


def run_summary(cohorts: Iterable[tuple[str, str | Path, str | Path]], out: str | Path) -> None:
    atomic.write_table(out, inclusion_summary(cohorts))


def run_all(cohort_file: str | Path, out_dir: str | Path) -> None:
    """Every step for one cohort in one process: ``<out_dir>/{discovered,labels,subjects,exclusions}.tsv``."""
    out_dir = Path(out_dir)
    cohort = load_cohort(cohort_file)
    run_discover(cohort_file, out_dir / "discovered.tsv", out_dir / "labels.tsv")
    discovered = read_discovered(out_dir / "discovered.tsv")
    ok = discovered[discovered["status"] == "ok"]
    records = []
    for row in tqdm(list(ok.itertuples(index=False)), desc=f"ingest {cohort.name}", unit="patient"):
        ingest_subject(cohort, row.subject, row.location, out_dir / row.subject)
        records.append(out_dir / row.subject / "record.json")
    run_sheet(cohort_file, out_dir / "discovered.tsv", out_dir / "labels.tsv", records,
              out_dir / "subjects.tsv", out_dir / "exclusions.tsv")
