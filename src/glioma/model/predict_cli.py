"""``glioma predict``: run a model artefact on the preprocessed patients of one cohort."""

from __future__ import annotations

import argparse

from glioma.data.splits import read_splits
from glioma.model.infer import predict_cohort, write_model_vs_oracle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model artefact folder (results/train/final)")
    parser.add_argument("--splits", default="results/cohort/splits.tsv")
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--folds", nargs="+", default=["test"])
    parser.add_argument("--preprocess-root", default="results/preprocess")
    parser.add_argument("--out", required=True, help="results/infer/<cohort>")
    parser.add_argument("--format", choices=["ours", "prognosais", "both"], default="both",
                        help="ours: predictions.csv only; both: also predictions_prognosais.csv")
    parser.add_argument("--no-native", action="store_true", help="skip mapping back to native space")
    parser.add_argument("--oracle", default=None, help="oracle.tsv (or oracle_auc.json) of a synthetic cohort")
    parser.add_argument("--model-vs-oracle", default=None, help="output CSV (with --oracle)")
    parser.add_argument("--threads", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    predict_cohort(args.model, read_splits(args.splits), args.cohort, args.preprocess_root,
                   args.out, folds=args.folds, native=not args.no_native,
                   prognosais=args.format != "ours", threads=args.threads)
    if args.oracle and args.model_vs_oracle:
        write_model_vs_oracle(f"{args.out}/predictions.csv", args.oracle, args.out,
                              args.preprocess_root, args.model_vs_oracle)
    return 0
