"""``glioma cohort``: assemble the train/validation/test splits table."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from glioma.data.splits import assemble_splits, cohort_table
from glioma.io.atomic import write_table

log = logging.getLogger(__name__)


def write_splits(
    sheets: list[str | Path],
    roles: list[str],
    preprocess_root: str | Path,
    splits_out: str | Path,
    excluded_out: str | Path | None = None,
    table_out: str | Path | None = None,
    validation_fraction: float = 0.15,
    seed: int = 42,
) -> None:
    """Cohort names are the sheets' folder names (``results/ingest/<cohort>/subjects.tsv``)."""
    if len(sheets) != len(roles):
        raise ValueError("give one role per subject sheet")
    names = [Path(s).parent.name for s in sheets]
    splits, excluded = assemble_splits(
        dict(zip(names, sheets, strict=True)), dict(zip(names, roles, strict=True)),
        preprocess_root, validation_fraction, seed,
    )
    write_table(splits_out, splits)
    if excluded_out is not None:
        write_table(excluded_out, excluded)
    if table_out is not None:
        write_table(table_out, cohort_table(splits))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sheets", nargs="+", required=True, help="results/ingest/<cohort>/subjects.tsv")
    parser.add_argument("--roles", nargs="+", required=True, help="train or test, one per sheet")
    parser.add_argument("--preprocess-root", default="results/preprocess")
    parser.add_argument("--out", default="results/cohort/splits.tsv")
    parser.add_argument("--excluded", default=None, help="TSV of patients left out here")
    parser.add_argument("--table", default=None, help="TSV of label counts per fold")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)


def run(args: argparse.Namespace) -> int:
    write_splits(args.sheets, args.roles, args.preprocess_root, args.out, args.excluded,
                 args.table, args.validation_fraction, args.seed)
    return 0
