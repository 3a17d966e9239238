"""``glioma train``: model selection runs, their summary, and the final training.

    glioma train select    --config config.yaml --splits S --params NAME --out DIR
    glioma train summarize --results DIR/result.json ... --out summary.tsv
    glioma train final     --config config.yaml --splits S --summary summary.tsv --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import yaml

from glioma.io.atomic import write_json
from glioma.model.config import apply_params, grid_points, settings_from_config
from glioma.model.train import final_run, select_run, selected_from_summary, summarize_selection

log = logging.getLogger(__name__)


def load_config(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def run_select(config: dict, splits: str | Path, preprocess_root: str | Path, name: str,
               out_dir: str | Path) -> dict:
    """Train grid point ``name`` of ``config["train"]["grid"]`` (fold train, validate on val)."""
    points = grid_points((config.get("train") or {}).get("grid"))
    if name not in points:
        raise KeyError(f"grid point {name!r} not in {sorted(points)}")
    settings = apply_params(settings_from_config(config), points[name])
    return select_run(out_dir, splits, preprocess_root, settings, points[name], name)


def run_final(config: dict, splits: str | Path, preprocess_root: str | Path,
              summary: str | Path, out_dir: str | Path) -> None:
    """Retrain the selected grid point on train + val and write the model artefact."""
    params, epochs = selected_from_summary(summary)
    settings = apply_params(settings_from_config(config), params)
    result = final_run(out_dir, splits, preprocess_root, settings, epochs, params=params,
                       selection={"summary": str(summary)})
    write_json(Path(out_dir) / "result.json", {"params": params, "epochs": epochs,
                                                "final_train_loss": float(result.history["train_loss"].iloc[-1])})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    sel = sub.add_parser("select", help="train one grid point with the validation hold-out")
    fin = sub.add_parser("final", help="retrain the selected grid point on the whole training set")
    for p in (sel, fin):
        p.add_argument("--config", required=True, help="workflow config with model:/train: sections")
        p.add_argument("--splits", default="results/cohort/splits.tsv")
        p.add_argument("--preprocess-root", default="results/preprocess")
        p.add_argument("--out", required=True, help="run folder")
    sel.add_argument("--params", default="default", help="grid point name (see `glioma train grid`)")
    fin.add_argument("--summary", required=True, help="results/train/select/summary.tsv")
    summ = sub.add_parser("summarize", help="choose the best grid point by validation loss")
    summ.add_argument("--results", nargs="+", required=True)
    summ.add_argument("--out", required=True)
    grid = sub.add_parser("grid", help="print the grid point names of a config")
    grid.add_argument("--config", required=True)


def run(args: argparse.Namespace) -> int:
    if args.action == "select":
        run_select(load_config(args.config), args.splits, args.preprocess_root, args.params, args.out)
    elif args.action == "final":
        run_final(load_config(args.config), args.splits, args.preprocess_root, args.summary, args.out)
    elif args.action == "summarize":
        summarize_selection(args.results, args.out)
    elif args.action == "grid":
        points = grid_points((load_config(args.config).get("train") or {}).get("grid"))
        for name, params in points.items():
            print(name, json.dumps(params))  # noqa: T201 - the command's result on stdout
    return 0
