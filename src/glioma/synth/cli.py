"""``glioma synth``: write a synthetic cohort's raw download (images, tables, oracle)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import yaml

from glioma.errors import ConfigError
from glioma.synth.config import from_cohort

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cohort-file", required=True, type=Path, help="config/cohorts/<name>.yaml")
    parser.add_argument("--out", required=True, type=Path, help="raw root to write (results/raw/<name>)")
    parser.add_argument("--seed", type=int, default=42, help="global seed, used when the cohort has none")
    parser.add_argument("--n-patients", type=int, default=None, help="override synthetic.n_patients")
    parser.add_argument("--resolution", type=float, default=None, help="override synthetic.resolution_mm")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/ITK threads (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_synth(cohort_file: Path, out: Path, *, seed: int = 42, n_patients: int | None = None,
              resolution: float | None = None, progress: bool = True) -> dict:
    """Read the cohort YAML and generate it into ``out``; returns the cohort.json summary."""
    from dataclasses import replace

    from glioma.synth.generate import generate_cohort

    try:
        cohort = yaml.safe_load(Path(cohort_file).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cohort file {cohort_file}: {err}") from err
    cfg = from_cohort(cohort, seed, source=f"cohort file {cohort_file}")
    if n_patients is not None:
        cfg = replace(cfg, n_patients=n_patients)
    if resolution is not None:
        cfg = replace(cfg, resolution_mm=resolution)
    return generate_cohort(cfg, out, progress=progress)


def run(args: argparse.Namespace) -> int:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    try:
        run_synth(args.cohort_file, args.out, seed=args.seed, n_patients=args.n_patients,
                  resolution=args.resolution, progress=not args.no_progress)
    except ConfigError as err:
        log.error("%s", err)
        return 2
    return 0
