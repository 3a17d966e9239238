"""Training one experiment run: the main model's recipe with the run's overrides and subset.

The run trains exactly as the final model does (:func:`glioma.model.train.final_run`: all
training patients, no validation set, the main model's selected hyperparameters and epochs from
``results/train/select/summary.tsv``), on the run's subset of the training patients and with its
settings overrides (e.g. ``drop_sequences``). The test patients are never touched, so every run
is tested on the same test set as the main model.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from glioma.data.splits import read_splits, stratified_validation
from glioma.errors import InputError
from glioma.experiments.config import RunSpec
from glioma.io.atomic import write_json, write_table
from glioma.model.config import apply_params, settings_from_config

log = logging.getLogger(__name__)

TRAIN_FOLDS: tuple[str, ...] = ("train", "val")


def subset_splits(splits: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    """The splits table with the training patients (folds train + val) outside the run's subset
    removed; test patients are kept unchanged. The fraction is drawn stratified by the known
    labels (as the validation hold-out) and seeded by ``spec.seed``."""
    train = splits["fold"].isin(TRAIN_FOLDS)
    keep = ~train
    chosen = train.copy()
    if spec.cohorts:
        unknown = sorted(set(spec.cohorts) - set(splits.loc[train, "cohort"]))
        if unknown:
            raise InputError(f"run {spec.experiment}/{spec.name}: no training patients from cohorts {unknown}")
        chosen &= splits["cohort"].isin(spec.cohorts)
    if spec.institutes:
        chosen &= splits["institute"].isin(spec.institutes)
    index = splits.index[chosen]
    if spec.fraction < 1.0 and len(index):
        strata = (splits.loc[index, ["idh", "codeletion", "grade"]].replace("", "u")
                  .agg("/".join, axis=1).tolist())
        mask = stratified_validation(strata, spec.fraction, spec.seed)
        index = index[mask]
    if len(index) == 0:
        raise InputError(f"run {spec.experiment}/{spec.name}: the subset has no training patients")
    keep |= splits.index.isin(index)
    out = splits.loc[keep].reset_index(drop=True)
    log.info("run %s/%s: %d of %d training patients", spec.experiment, spec.name,
             int(out["fold"].isin(TRAIN_FOLDS).sum()), int(train.sum()))
    return out


def selected_recipe(summary: str | Path | None) -> tuple[dict[str, Any], int | None]:
    """(hyperparameters, epochs) of the main model's selected grid point; ``({}, None)`` without
    a summary (then ``train.max_epochs`` is used)."""
    if summary is None:
        return {}, None
    from glioma.model.train import selected_from_summary

    return selected_from_summary(summary)


def _launched_rank() -> int:
    """This process's rank when a launcher started it (srun, torchrun); 0 otherwise."""
    for name in ("RANK", "SLURM_PROCID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def train_experiment_run(
    config: Mapping[str, Any],
    spec: RunSpec,
    splits: str | Path,
    preprocess_root: str | Path,
    out_dir: str | Path,
    *,
    summary: str | Path | None = None,
    epochs: int | None = None,
    launcher: str | None = None,
) -> Path:
    """Train ``spec`` into ``out_dir`` (the model artefact of :mod:`glioma.model.artefact` plus
    ``splits.tsv``, the run's training subset, and ``run.json``). Returns ``out_dir``.

    ``launcher`` (the rule's ``mpi`` resource, e.g. ``srun``): inside a SLURM allocation and with
    several ranks in the config, start them as ``glioma train experiment`` (as the main model's
    final training does, :func:`glioma.model.cli.launch_ranks`); only rank zero writes."""
    from glioma.model.cli import launch_ranks
    from glioma.model.train import final_run

    out_dir = Path(out_dir)
    params, selected_epochs = selected_recipe(summary)
    settings = apply_params(apply_params(settings_from_config(config), params), spec.overrides())
    n_epochs = int(epochs or selected_epochs or settings.train.max_epochs)
    run_splits = subset_splits(read_splits(splits), spec)
    record = {
        "experiment": spec.experiment, "run": spec.name, "description": spec.description,
        "overrides": spec.overrides(), "cohorts": list(spec.cohorts),
        "institutes": list(spec.institutes), "fraction": spec.fraction, "seed": spec.seed,
        "selected_params": params, "epochs": n_epochs,
        "training_patients": int(run_splits["fold"].isin(TRAIN_FOLDS).sum()),
    }
    if _launched_rank() == 0:
        write_table(out_dir / "splits.tsv", run_splits)
        write_json(out_dir / "run.json", record)
    argv = ["experiment", "--experiment", spec.experiment, "--run", spec.name, "--splits", str(splits),
            "--preprocess-root", str(preprocess_root)]
    argv += ["--summary", str(summary)] if summary else []
    argv += ["--epochs", str(epochs)] if epochs else []
    if launch_ranks(dict(config), settings, launcher, out_dir, argv):
        return out_dir
    result = final_run(out_dir, out_dir / "splits.tsv", preprocess_root, settings, n_epochs,
                       params={**params, **spec.overrides()},
                       selection={"summary": str(summary) if summary else None,
                                  "experiment": spec.experiment, "run": spec.name})
    if result.is_global_zero:
        write_json(out_dir / "result.json", {
            "params": json.loads(json.dumps({**params, **spec.overrides()})), "epochs": n_epochs,
            "final_train_loss": float(result.history["train_loss"].iloc[-1])})
    return out_dir
