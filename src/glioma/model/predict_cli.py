"""``glioma predict``: run a model artefact on the preprocessed patients of one cohort, or on one
patient preprocessed by ``glioma preprocess`` (``--patient DIR``)."""

from __future__ import annotations

import argparse

from glioma.data.splits import read_splits
from glioma.model.infer import predict_cohort, predict_patient, write_model_vs_oracle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model artefact folder (results/train/final)")
    parser.add_argument("--splits", default="results/cohort/splits.tsv")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--cohort", help="predict the patients of this cohort in --splits")
    which.add_argument("--patient", help="one patient's folder written by `glioma preprocess --out`")
    parser.add_argument("--folds", nargs="+", default=["test"])
    parser.add_argument("--preprocess-root", default="results/preprocess")
    parser.add_argument("--out", required=True, help="results/infer/<cohort> (or a folder for --patient)")
    parser.add_argument("--format", choices=["ours", "prognosais", "both"], default="both",
                        help="ours: predictions.csv only; both: also predictions_prognosais.csv")
    parser.add_argument("--no-native", action="store_true", help="skip mapping back to native space")
    parser.add_argument("--oracle", default=None, help="oracle.tsv (or oracle_auc.json) of a synthetic cohort")
    parser.add_argument("--model-vs-oracle", default=None, help="output CSV (with --oracle)")
    parser.add_argument("--threads", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    if args.patient:
        predict_patient(args.model, args.patient, args.out, native=not args.no_native, threads=args.threads)
        return 0
    predict_cohort(args.model, read_splits(args.splits), args.cohort, args.preprocess_root,
                   args.out, folds=args.folds, native=not args.no_native,
                   prognosais=args.format != "ours", threads=args.threads)
    if args.oracle and args.model_vs_oracle:
        write_model_vs_oracle(f"{args.out}/predictions.csv", args.oracle, args.out,
                              args.preprocess_root, args.model_vs_oracle)
    return 0
