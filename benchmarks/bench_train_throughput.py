"""Benchmark 2: CPU training throughput (samples/s) of the demo configuration (config/config.yaml
``model:``/``train:``) on a toy cohort at the demo grid (3 mm atlas brain bounding box), against
the throughput the demo needs to train selection grid + final run within 10 minutes.

    python benchmarks/bench_train_throughput.py [--patients 60] [--epochs 2] [--threads 1 2] \
        [--precision 32-true bf16-mixed]

The needed rate assumes the workflow's splits (results/cohort/splits.tsv) if present, else
``--patients`` training patients, and ``train.max_epochs`` epochs for every run (an upper bound:
early stopping usually ends sooner). ``--threads`` times the same training once per thread
count, side by side (default: ``train.threads`` of the config); ``--precision`` likewise once per
precision (default: ``train.precision``; ``auto`` is resolved and printed as what it became).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=60, help="training patients (if no splits)")
    parser.add_argument("--toy", type=int, default=12, help="toy patients to time on")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--shape", type=int, nargs=3, default=[48, 60, 52],
                        help="grid (3 mm MNI brain bounding box)")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="torch threads, one timed training each (default: train.threads)")
    parser.add_argument("--precision", nargs="+", default=None,
                        help="Lightning precisions, one timed training each (default: train.precision)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from glioma.data.datamodule import GliomaDataModule, load_records
    from glioma.data.splits import assemble_splits, read_splits
    from glioma.data.toy import make_toy_cohort
    from glioma.model.config import grid_points, resolve_precision, settings_from_config
    from glioma.model.train import train_run

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    settings = settings_from_config(config)
    cfg = settings.train
    measured: dict[tuple[int, str], float] = {}
    precisions = dict.fromkeys(resolve_precision(p, cfg.accelerator) for p in (args.precision or [cfg.precision]))
    with tempfile.TemporaryDirectory() as tmp:
        pre, sheet = make_toy_cohort(tmp, "bench", args.toy, shape=tuple(args.shape), seed=0)
        splits, _ = assemble_splits({"bench": sheet}, {"bench": "train"}, pre, 0.0, 0)
        records = load_records(splits, pre, ["train"])
        for threads in dict.fromkeys(args.threads or [cfg.threads]):  # each count once
            for precision in precisions:
                dm = GliomaDataModule(train_records=records, val_records=[], val_folds=(),
                                      batch_size=cfg.batch_size, augmentation=cfg.augmentation, seed=cfg.seed)
                quiet = type(cfg).from_dict({**cfg.to_dict(), "progress_bar": False, "threads": threads,
                                             "precision": precision})
                run_settings = type(settings)(network=settings.network, train=quiet, input_shape=None)
                start = time.perf_counter()
                train_run(Path(tmp) / f"run{threads}-{precision}", run_settings, datamodule=dm,
                          has_validation=False, max_epochs=args.epochs)
                measured[threads, precision] = args.toy * args.epochs / (time.perf_counter() - start)
    splits_path = REPO / "results" / "cohort" / "splits.tsv"
    if splits_path.is_file():
        table = read_splits(splits_path)
        n_train = int((table["role"] == "train").sum())
    else:
        n_train = args.patients
    runs = len(grid_points(config.get("train", {}).get("grid")))
    needed_samples = runs * 0.85 * n_train * cfg.max_epochs + n_train * cfg.max_epochs
    needed = needed_samples / 600.0
    print(f"demo network: {settings.network.base_filters} filters, depth {settings.network.depth}, "
          f"grid {args.shape}, batch {cfg.batch_size}, config train.threads {cfg.threads}")
    print(f"{'training samples/s':34s}{'measured':>12s}{'needed':>12s}")
    for (threads, precision), rate in measured.items():
        print(f"{f'  {threads} thread(s), {precision}':34s}{rate:12.2f}{needed:12.2f}")
    print(f"({n_train} training patients, {runs} selection runs + final, {cfg.max_epochs} epochs each, 10 min)")
    for (threads, precision), rate in measured.items():
        print(f"throughput measured / needed, {threads} thread(s), {precision} = {rate / needed:.2f} "
              "(>= 1: the demo fits in 10 minutes)")
    first = next(iter(measured))
    for key, rate in list(measured.items())[1:]:
        print(f"ratio {key[0]} thread(s) {key[1]} / {first[0]} thread(s) {first[1]} = {rate / measured[first]:.2f}")


if __name__ == "__main__":
    main()
