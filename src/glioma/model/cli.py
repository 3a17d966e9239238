"""``glioma train``: model selection runs, their summary, and the final training.

    glioma train select    --config config.yaml --splits S --params NAME --out DIR
    glioma train summarize --results DIR/result.json ... --out summary.tsv
    glioma train final     --config config.yaml --splits S --summary summary.tsv --out DIR
    glioma train experiment --config config.yaml --experiment E --run R --splits S --summary summary.tsv --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import pandas as pd
import yaml

from glioma.io.atomic import write_json
from glioma.model import distributed
from glioma.model.config import ModelSettings, apply_params, grid_points, settings_from_config
from glioma.model.train import (
    final_run,
    select_run,
    selected_from_summary,
    selected_run_dir,
    summarize_selection,
)

log = logging.getLogger(__name__)


def load_config(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def launch_ranks(config: dict, settings: ModelSettings, launcher: str | None, out_dir: str | Path,
                  argv: list[str]) -> bool:
    """Start the ranks of a multi-task SLURM job (see :mod:`glioma.model.distributed`); False
    when this process trains itself (one rank, or no SLURM allocation)."""
    lay = distributed.layout_from_train(settings.train.to_dict())
    if not distributed.should_launch(launcher, lay):
        return False
    assert launcher is not None
    # the ranks read the resolved workflow config from a file (removed afterwards); their output
    # goes to the log, so without progress bars (not part of a run's fingerprint)
    rank_config = {**config, "train": {**(config.get("train") or {}), "progress_bar": False}}
    for stale in Path(out_dir).glob(".launch-config-*.json"):  # left by a killed job
        stale.unlink(missing_ok=True)
    config_file = write_json(Path(out_dir) / f".launch-config-{os.getpid()}.json", rank_config)
    try:
        distributed.launch(launcher, lay, settings.train.threads,
                           ["train", *argv, "--config", str(config_file), "--out", str(out_dir)])
    finally:
        config_file.unlink(missing_ok=True)
    return True


def run_select(config: dict, splits: str | Path, preprocess_root: str | Path, name: str,
               out_dir: str | Path, launcher: str | None = None) -> dict:
    """Train grid point ``name`` of ``config["train"]["grid"]`` (fold train, validate on val).
    ``launcher`` (the rule's ``mpi`` resource, e.g. ``srun``) starts one process per rank when
    the config asks for several and this runs inside a SLURM allocation."""
    points = grid_points((config.get("train") or {}).get("grid"))
    if name not in points:
        raise KeyError(f"grid point {name!r} not in {sorted(points)}")
    settings = apply_params(settings_from_config(config), points[name])
    argv = ["select", "--splits", str(splits), "--preprocess-root", str(preprocess_root), "--params", name]
    if launch_ranks(config, settings, launcher, out_dir, argv):
        return json.loads((Path(out_dir) / "result.json").read_text())
    return select_run(out_dir, splits, preprocess_root, settings, points[name], name)


def run_final(config: dict, splits: str | Path, preprocess_root: str | Path,
              summary: str | Path, out_dir: str | Path, launcher: str | None = None) -> None:
    """Retrain the selected grid point on train + val and write the model artefact (rank zero);
    ``launcher`` as in :func:`run_select`."""
    params, epochs = selected_from_summary(summary)
    settings = apply_params(settings_from_config(config), params)
    argv = ["final", "--splits", str(splits), "--preprocess-root", str(preprocess_root), "--summary", str(summary)]
    if launch_ranks(config, settings, launcher, out_dir, argv):
        return
    run_dir = selected_run_dir(summary)
    reference = pd.read_csv(run_dir / "metrics.csv") if (run_dir / "metrics.csv").is_file() else None
    result = final_run(out_dir, splits, preprocess_root, settings, epochs, params=params,
                       selection={"summary": str(summary), "run": str(run_dir)}, reference=reference)
    if result.is_global_zero:
        check = result.curve_check or {"status": "not compared",
                                        "reason": f"no {run_dir / 'metrics.csv'}"}
        write_json(Path(out_dir) / "result.json", {
            "params": params, "epochs": epochs,
            "final_train_loss": float(result.history["train_loss"].iloc[-1]),
            "curve_check": check})


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
    exp = sub.add_parser("experiment", help="train one experiment run (ablation, subsets) with the main recipe")
    exp.add_argument("--config", required=True, help="workflow config with model:/train:/experiments:")
    exp.add_argument("--experiment", required=True, help="ablation | subsets")
    exp.add_argument("--run", required=True, help="run name under experiments.<experiment>.runs")
    exp.add_argument("--splits", default="results/cohort/splits.tsv")
    exp.add_argument("--preprocess-root", default="results/preprocess")
    exp.add_argument("--summary", default=None, help="the main model's results/train/select/summary.tsv")
    exp.add_argument("--epochs", type=int, default=None, help="instead of the selected number")
    exp.add_argument("--out", required=True, help="run folder")
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
    elif args.action == "experiment":
        from glioma.experiments.config import get_run
        from glioma.experiments.runs import train_experiment_run

        config = load_config(args.config)
        train_experiment_run(config, get_run(config, args.experiment, args.run), args.splits,
                             args.preprocess_root, args.out, summary=args.summary, epochs=args.epochs)
    elif args.action == "summarize":
        summarize_selection(args.results, args.out)
    elif args.action == "grid":
        points = grid_points((load_config(args.config).get("train") or {}).get("grid"))
        for name, params in points.items():
            print(name, json.dumps(params))  # noqa: T201 - the command's result on stdout
    return 0
