"""``glioma preprocess``: one patient's four raw scans into atlas space (see README.md).

Exit status: 0 when the patient is included, 3 when excluded (qc.json says why), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import yaml

from glioma.errors import ConfigError
from glioma.ids import validate_id
from glioma.preprocess.config import SKULL_STRIP_BACKENDS
from glioma.schema import SEQUENCES

logger = logging.getLogger(__name__)

EXIT_EXCLUDED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for seq in SEQUENCES:
        parser.add_argument(f"--{seq}", required=True, type=Path, metavar="FILE", help=f"native {seq} NIfTI")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--seg", type=Path, metavar="FILE", help="tumour segmentation (any non-zero = tumour)")
    parser.add_argument("--seg-reference", default="t1c", choices=SEQUENCES,
                        help="sequence whose grid the segmentation is on (default t1c)")
    parser.add_argument("--subject", help="patient ID for messages and qc.json (default: name of --out)")
    parser.add_argument("--config", type=Path, help="config YAML; its `preprocess:` section is used")
    parser.add_argument("--resolution", type=float, dest="resolution_mm", help="output voxel size in mm")
    parser.add_argument("--skull-strip", choices=SKULL_STRIP_BACKENDS, help="skull-stripping backend")
    parser.add_argument("--hdbet2-weights", type=Path, help="folder of HD-BET 2 weights (backend hdbet2)")
    parser.add_argument("--threads", type=int, default=1, help="threads for ITK, BLAS and torch (default 1)")


def run(args: argparse.Namespace) -> int:
    from glioma.preprocess.threads import set_threads

    set_threads(args.threads)  # before ANTsPy/ITK start any work
    from glioma.preprocess.config import PreprocessConfig
    from glioma.preprocess.pipeline import preprocess_subject

    settings: dict = {}
    if args.config is not None:
        try:
            settings = dict((yaml.safe_load(args.config.read_text()) or {}).get("preprocess") or {})
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"config {str(args.config)!r}: {err}") from err
    for key in ("resolution_mm", "skull_strip", "hdbet2_weights"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = str(value) if isinstance(value, Path) else value
    config = PreprocessConfig.from_mapping(settings)
    subject = validate_id(args.subject or args.out.resolve().name)
    record = preprocess_subject(
        {seq: getattr(args, seq) for seq in SEQUENCES}, args.out, subject=subject, config=config,
        seg=args.seg, seg_reference=args.seg_reference,
    )
    summary = {k: record.get(k) for k in ("subject", "status", "reason", "seconds")}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0 if record["status"] == "ok" else EXIT_EXCLUDED
