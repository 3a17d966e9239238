"""``glioma evaluate``: Table 2, ROC curves, confusion matrices, subtypes and (optionally) survival.

Example::

    glioma evaluate --predictions ../shared/data/prognosais_supplementary/test_predictions.csv \\
        --out results/paper --cdr ../shared/data/tcga-clinical/TCGA-CDR-SupplementalTableS1.xlsx
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from glioma.errors import GliomaError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, type=Path, help="predictions CSV (our schema or the PrognosAIs format)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--n-resamples", type=int, default=2500, help="bootstrap resamples (default 2500)")
    parser.add_argument("--seed", type=int, default=42, help="bootstrap seed (default 42)")
    parser.add_argument("--ci-method", choices=("percentile", "basic"), default="percentile",
                        help="bootstrap interval (default percentile: reproduces the paper)")
    parser.add_argument("--cdr", type=Path, default=None, help="TCGA-CDR xlsx: add the survival comparison")
    parser.add_argument("--subjects", type=Path, nargs="*", default=(), help="subject sheets with OS: add the survival comparison")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from glioma.evaluate import pipeline

    out: Path = args.out
    try:
        table = pipeline.write_table2(
            args.predictions, out / "table2.csv", out / "table2_formatted.csv", out / "roc.png",
            n_resamples=args.n_resamples, seed=args.seed, ci_method=args.ci_method,
        )
        pipeline.write_subtypes(args.predictions, out)
        if args.cdr is not None or args.subjects:
            pipeline.write_survival(args.predictions, out / "survival_logrank.csv", out / "survival_km.png",
                                    cdr_xlsx=args.cdr, subject_sheets=args.subjects)
    except GliomaError as err:
        log.error("%s", err)
        return 1
    log.info("\n%s", table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0
