"""``glioma ingest``: discover | subject | sheet | summary (one step of the ingest stage each).

Examples::

    glioma ingest discover --cohort-file config/cohorts/demo_tcia.yaml \\
        --out results/ingest/demo_tcia/discovered.tsv --labels results/ingest/demo_tcia/labels.tsv
    glioma ingest subject --cohort-file config/cohorts/demo_tcia.yaml \\
        --discovered results/ingest/demo_tcia/discovered.tsv --subject P001 \\
        --out-dir results/ingest/demo_tcia/P001
    glioma ingest sheet --cohort-file ... --discovered ... --labels ... \\
        --records results/ingest/demo_tcia/*/record.json --out ... --exclusions ...
    glioma ingest summary --cohort demo_tcia results/ingest/demo_tcia/subjects.tsv \\
        results/ingest/demo_tcia/exclusions.tsv --out results/ingest/inclusion_summary.tsv
    glioma ingest all --cohort-file ... --out-dir results/ingest/demo_tcia   (all steps, no Snakemake)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from glioma.ingest import pipeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    p = sub.add_parser("discover", help="find patients, check IDs, unify labels -> discovered.tsv, labels.tsv")
    p.add_argument("--cohort-file", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="discovered.tsv")
    p.add_argument("--labels", required=True, type=Path, help="labels.tsv")

    p = sub.add_parser("subject", help="convert/select one patient's scans -> <out-dir>/record.json")
    p.add_argument("--cohort-file", required=True, type=Path)
    p.add_argument("--discovered", required=True, type=Path)
    p.add_argument("--subject", required=True)
    p.add_argument("--out-dir", required=True, type=Path)

    p = sub.add_parser("sheet", help="aggregate records -> subjects.tsv, exclusions.tsv")
    p.add_argument("--cohort-file", required=True, type=Path)
    p.add_argument("--discovered", required=True, type=Path)
    p.add_argument("--labels", required=True, type=Path)
    p.add_argument("--records", nargs="*", default=[], type=Path)
    p.add_argument("--out", required=True, type=Path, help="subjects.tsv")
    p.add_argument("--exclusions", required=True, type=Path, help="exclusions.tsv")

    p = sub.add_parser("summary", help="inclusion summary over cohorts")
    p.add_argument("--cohort", nargs=3, action="append", required=True,
                   metavar=("NAME", "SUBJECTS_TSV", "EXCLUSIONS_TSV"))
    p.add_argument("--out", required=True, type=Path)

    p = sub.add_parser("all", help="every step for one cohort, in one process (no Snakemake)")
    p.add_argument("--cohort-file", required=True, type=Path)
    p.add_argument("--out-dir", required=True, type=Path, help="results/ingest/<cohort>")


def run(args: argparse.Namespace) -> int:
    if args.step == "discover":
        pipeline.run_discover(args.cohort_file, args.out, args.labels)
    elif args.step == "subject":
        pipeline.run_subject(args.cohort_file, args.discovered, args.subject, args.out_dir)
    elif args.step == "sheet":
        pipeline.run_sheet(args.cohort_file, args.discovered, args.labels, args.records, args.out, args.exclusions)
    elif args.step == "summary":
        pipeline.run_summary([tuple(c) for c in args.cohort], args.out)
    elif args.step == "all":
        pipeline.run_all(args.cohort_file, args.out_dir)
    return 0
