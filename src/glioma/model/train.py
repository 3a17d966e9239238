"""Training entry points: one run, the hyperparameter selection summary and the final run.

A run folder holds::

    checkpoints/last.ckpt, checkpoints/best.ckpt   Lightning checkpoints (resume from last)
    fingerprint.json                               settings, folds and data digest the
                                                   checkpoints belong to
    metrics.csv                                    one row per epoch (see README.md)
    config.yaml                                    the resolved settings of this run
    run_info.json                                  versions, seed, git revision, host, times,
                                                   the ranks that trained (world size, SLURM ids)
    result.json                                    best epoch / losses (selection) or summary
    lightning_logs/                                Lightning's own step-level CSV log

A run restarted on the same folder with the same settings and the same data resumes from
``last.ckpt``; in deterministic mode the final weights equal those of an uninterrupted run.

With several ranks (DDP) every rank runs :func:`train_run`; only global rank zero writes files
(each write atomic), the others only read the run folder to take the same resume decision.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.distributed as dist
import yaml
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from glioma.data.datamodule import GliomaDataModule
from glioma.data.splits import read_splits
from glioma.io.atomic import write_json, write_table, write_text
from glioma.model.config import ModelSettings, resolve_precision
from glioma.model.losses import class_weights_from_prevalence
from glioma.model.network import TASKS

log = logging.getLogger(__name__)

SUMMARY_COLUMNS: tuple[str, ...] = (
    "params", "best_epoch", "best_val_loss", "best_val_loss_ma", "epochs_trained",
    "last_val_loss_ma", "select_epoch", "score", "final_epochs", "selected", "settings",
)


@dataclass
class RunResult:
    out_dir: Path
    history: pd.DataFrame
    best_epoch: int | None
    best_val_loss: float | None
    module: pl.LightningModule
    is_global_zero: bool = True
    #: final runs with a reference: :func:`compare_training_curves` against the selected run
    curve_check: dict | None = None


def git_revision(start: Path | None = None) -> str:
    """``git describe``-like revision of the working tree (``unknown`` outside git)."""
    cwd = start or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_info(seed: int, trainer: pl.Trainer | None = None) -> dict:
    import monai

    from glioma import __version__

    return {
        "glioma": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
        "monai": monai.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "seed": seed,
        "git_revision": git_revision(),
        "command": " ".join(sys.argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "distributed": {} if trainer is None else _distributed_info(trainer),
    }


def _distributed_info(trainer: pl.Trainer) -> dict:
    env = getattr(trainer.strategy, "cluster_environment", None)
    return {
        "strategy": type(trainer.strategy).__name__,
        "cluster_environment": None if env is None else type(env).__name__,
        "num_nodes": trainer.num_nodes,
        "devices_per_node": trainer.num_devices,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }


#: Lightning's step-level log of a run folder (CSVLogger, version 0)
STEP_LOG = Path("lightning_logs") / "version_0" / "metrics.csv"


def read_step_log(path: Path) -> list[dict[str, str]]:
    """The rows of a step-level log as written (strings; empty where a column was not logged)."""
    import csv

    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


class StepLogCarry(pl.Callback):
    """Keeps the step-level log whole across a resume. Lightning's CSV logger deletes the
    folder's ``metrics.csv`` when it starts; the rows the killed run had written for the steps
    before the checkpoint (``step`` < the resumed global step) are handed back to the logger's
    writer at the start of training, so they are written first. Checkpoints are taken at the end
    of an epoch, so the rows kept are those of the epochs before the resumed one; the rows of the
    epoch the kill interrupted are redone, and logged again by the resumed run."""

    def __init__(self, rows: list[dict[str, str]]):
        self.rows = rows

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not (self.rows and trainer.is_global_zero and isinstance(trainer.logger, CSVLogger)):
            return
        kept = [row for row in self.rows
                if row.get("epoch", "").strip().isdigit() and int(row["epoch"]) < trainer.current_epoch]
        trainer.logger.experiment.metrics[:0] = kept
        trainer.logger.save()
        self.rows = []


class RankRecord(pl.Callback):
    """Adds the ranks that really train (gathered once the process group is up) to
    ``run_info.json``: ``world_size`` and per rank its global/local/node rank, host, PID and
    SLURM task and step ids."""

    def __init__(self, path: Path, info: dict):
        self.path = path
        self.info = info

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        me = {"global_rank": trainer.global_rank, "local_rank": trainer.local_rank,
              "node_rank": trainer.node_rank, "host": socket.gethostname(), "pid": os.getpid(),
              "slurm_procid": os.environ.get("SLURM_PROCID"),
              "slurm_step_id": os.environ.get("SLURM_STEP_ID"),
              "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
        ranks: list = [me]
        if dist.is_available() and dist.is_initialized():
            ranks = [None] * dist.get_world_size()
            dist.all_gather_object(ranks, me)
        log.info("rank %d of %d (local %d, node %d) on %s, pid %d", trainer.global_rank, len(ranks),
                 trainer.local_rank, trainer.node_rank, me["host"], me["pid"])
        if trainer.is_global_zero:
            write_json(self.path, {**self.info, "world_size": len(ranks), "ranks": ranks})


def class_weights(datamodule: GliomaDataModule, mode: str) -> dict[str, list[float] | None]:
    if mode == "none":
        return {t: None for t in TASKS}
    if mode != "prevalence":
        raise ValueError(f"class_weights must be prevalence or none, got {mode!r}")
    n_classes = {"idh": 2, "codeletion": 2, "grade": 3}
    return {t: class_weights_from_prevalence(datamodule.train_labels(t), n_classes[t]) for t in TASKS}


def _fingerprint(settings: ModelSettings, datamodule: GliomaDataModule, has_validation: bool,
                 epochs: int) -> dict:
    """What a checkpoint belongs to: the settings (less those that do not change the weights),
    the run's number of epochs (the cosine schedule spans them: a run resumed with another count
    would follow another schedule), the folds, and the digest of the data itself, so that a
    changed cohort (new patients, a corrected label, a re-preprocessed scan) starts training
    afresh instead of resuming."""
    d = settings.to_dict()
    d["train"] = {k: v for k, v in d["train"].items()
                  if k not in {"max_epochs", "progress_bar", "num_workers", "threads", "refit_heads",
                               "select_epoch"}}
    data = datamodule.data_fingerprint()
    if not has_validation:
        data = {k: v for k, v in data.items() if k not in {"n_val", "val"}}
    return {"settings": d, "epochs": epochs, "train_folds": list(datamodule.train_folds),
            "val_folds": list(datamodule.val_folds) if has_validation else [], "data": data}


def train_run(
    out_dir: str | Path,
    settings: ModelSettings,
    *,
    datamodule: GliomaDataModule,
    has_validation: bool = True,
    max_epochs: int | None = None,
    resume: bool = True,
    extra_callbacks: Sequence[pl.Callback] = (),
) -> RunResult:
    """Train one model into ``out_dir`` (see the module docstring). Returns the per-epoch
    history and the trained module (weights of the last epoch)."""
    out_dir = Path(out_dir)
    cfg = settings.train
    torch.set_num_threads(max(1, int(cfg.threads)))
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    epochs = int(max_epochs if max_epochs is not None else cfg.max_epochs)
    ckpt_dir = out_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    callbacks: list[pl.Callback] = list(extra_callbacks)
    # last.ckpt after every epoch (after its validation, if any), whatever the validation loss
    # did: Lightning 2.6 writes `save_last` only in a step that also saved a top-k checkpoint, so
    # a selection run's last.ckpt stayed at its best epoch (and a final run's was written at the
    # end only), and a killed run resumed from there
    callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                                     enable_version_counter=False))
    if has_validation:
        callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val_loss",
                                         mode="min", save_top_k=1, enable_version_counter=False))
        callbacks.append(EarlyStopping(monitor="val_loss_ma", mode="min",
                                       patience=cfg.early_stopping_patience,
                                       check_on_train_epoch_end=False))
    multi = str(cfg.devices) not in {"1", "auto"} or cfg.num_nodes > 1
    precision = resolve_precision(cfg.precision, cfg.accelerator)
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        strategy=cfg.strategy,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        precision=precision,
        max_epochs=epochs,
        deterministic=cfg.deterministic,
        callbacks=callbacks,
        # every step's row is on disk at once (default: 100 buffered, lost when the job is killed)
        logger=CSVLogger(str(out_dir), name="lightning_logs", version=0, flush_logs_every_n_steps=1),
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if has_validation else 0,
        sync_batchnorm=multi and settings.network.norm == "batch" and cfg.accelerator != "cpu",
        use_distributed_sampler=False,
        log_every_n_steps=1,
        default_root_dir=str(out_dir),
    )
    # Ranks started together (srun) all get here; Lightning's own launchers start the other
    # ranks later, inside fit(). Rank zero alone changes the folder; it removes stale checkpoints
    # before it writes the new fingerprint, and every rank reads the fingerprint before it looks
    # for last.ckpt, so all ranks take the same resume decision.
    rank_zero = trainer.is_global_zero
    datamodule.setup("fit")  # the fingerprint holds the digest of the loaded data
    fingerprint = json.loads(json.dumps(_fingerprint(settings, datamodule, has_validation, epochs), default=str))
    fingerprint["precision"] = precision  # "auto" resolves per machine: resume only in the same one
    fp_path = out_dir / "fingerprint.json"
    last = ckpt_dir / "last.ckpt"
    same_settings = fp_path.is_file() and json.loads(fp_path.read_text()) == fingerprint
    ckpt_path = None
    if resume and same_settings and last.is_file():
        ckpt_path = str(last)
        log.info("resuming from %s", last)
        if rank_zero:  # read before the logger starts, which deletes it
            trainer.callbacks.append(StepLogCarry(read_step_log(out_dir / STEP_LOG)))
    else:
        if last.is_file():
            log.info("not resuming from %s: %s", last, "resume is off" if not resume else
                     "its settings or training data differ from this run's; training afresh")
        if rank_zero:
            for stale in ckpt_dir.glob("*.ckpt"):
                stale.unlink(missing_ok=True)
            write_json(fp_path, fingerprint)
    module = _make_module(settings, datamodule, has_validation)
    module.metrics_path = out_dir / "metrics.csv"
    info = {**run_info(cfg.seed, trainer), "precision": precision}
    if rank_zero:
        write_text(out_dir / "config.yaml", yaml.safe_dump(
            {**settings.to_dict(), "max_epochs_run": epochs, "has_validation": has_validation,
             "train_folds": list(datamodule.train_folds),
             "val_folds": list(datamodule.val_folds) if has_validation else [],
             "spatial_shape": list(datamodule.spatial_shape)}, sort_keys=False))
        write_json(out_dir / "run_info.json", info)
    trainer.callbacks.append(RankRecord(out_dir / "run_info.json", info))

    started = time.time()
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    if module.history:
        history = pd.DataFrame(module.history)
        if trainer.is_global_zero:
            write_table(out_dir / "metrics.csv", history)
    else:  # spawned processes (ddp_spawn) trained; rank zero wrote the table
        history = pd.read_csv(out_dir / "metrics.csv")
        module.history = history.to_dict("records")
    best_epoch = best_loss = None
    if has_validation and "val_loss" in history and history["val_loss"].notna().any():
        best = history.loc[history["val_loss"].idxmin()]
        best_epoch, best_loss = int(best["epoch"]), float(best["val_loss"])
    log.info("training finished in %.1f s: %d epochs, best epoch %s (val loss %s)",
             time.time() - started, len(history), best_epoch, best_loss)
    return RunResult(out_dir, history, best_epoch, best_loss, module, is_global_zero=trainer.is_global_zero)


def _make_module(settings: ModelSettings, datamodule: GliomaDataModule, has_validation: bool):
    from glioma.model.lightning import GliomaModule

    cfg = settings.train
    return GliomaModule(
        network=settings.network.to_dict(),
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        task_weights=cfg.task_weights,
        class_weights=class_weights(datamodule, cfg.class_weights),
        plateau_factor=cfg.plateau_factor,
        plateau_patience=cfg.plateau_patience,
        ma_window=cfg.moving_average_window,
        seed=cfg.seed,
        has_validation=has_validation,
        seg_loss=cfg.seg_loss,
        lr_schedule=cfg.lr_schedule,
    )


def select_run(out_dir: str | Path, splits_path: str | Path, preprocess_root: str | Path,
               settings: ModelSettings, params: dict, name: str) -> dict:
    """One grid point of the model selection: train on fold ``train``, validate on ``val``;
    writes ``result.json`` and returns it."""
    out_dir = Path(out_dir)
    dm = fold_datamodule(splits_path, preprocess_root, settings, ("train",), ("val",))
    result = train_run(out_dir, settings, datamodule=dm, has_validation=True)
    hist = result.history
    summary = {
        "params": name,
        "settings": params,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "best_val_loss_ma": float(hist["val_loss_ma"].min()) if "val_loss_ma" in hist else None,
        "epochs_trained": len(hist),
        "last_val_loss_ma": float(hist["val_loss_ma"].iloc[-1]) if "val_loss_ma" in hist else None,
    }
    summary.update(selection_score(summary, settings.train.select_epoch))
    if result.is_global_zero:
        write_json(out_dir / "result.json", summary)
    return summary


def fold_datamodule(splits_path: str | Path, preprocess_root: str | Path, settings: ModelSettings,
                    train_folds: Sequence[str], val_folds: Sequence[str]) -> GliomaDataModule:
    """The data module of a run: the splits table's ``train_folds`` for training and
    ``val_folds`` for validation, with the run's batch size, augmentation, seed and input shape."""
    cfg = settings.train
    return GliomaDataModule(
        read_splits(splits_path), preprocess_root, train_folds=train_folds, val_folds=val_folds,
        batch_size=cfg.batch_size, augmentation=cfg.augmentation, seed=cfg.seed,
        num_workers=cfg.num_workers, input_shape=settings.input_shape,
    )


def selection_score(result: dict, select_epoch: str) -> dict:
    """How a selection run competes in the grid and how long the final run trains.

    ``best`` (the paper): ``score`` is the run's lowest validation loss and ``final_epochs`` its
    best epoch + 1. ``last``: the moving average of the validation loss at the run's last epoch
    and every epoch it trained. ``last`` suits a cosine schedule, whose last epoch is the settled
    model, and a small validation set, whose loss minimum can fall early by chance: in the demo
    (26 validation patients) the lowest loss came at epoch 6 of 15 while the validation Dice
    (0.80 to 0.83) and grade AUC (0.73 to 0.80) still rose."""
    if select_epoch == "best":
        best = result.get("best_epoch")
        return {"select_epoch": "best", "score": result.get("best_val_loss"),
                "final_epochs": None if best is None else int(best) + 1}
    if select_epoch == "last":
        return {"select_epoch": "last", "score": result.get("last_val_loss_ma"),
                "final_epochs": int(result["epochs_trained"])}
    raise ValueError(f"select_epoch must be best or last, got {select_epoch!r}")


def summarize_selection(results: Sequence[str | Path], out_path: str | Path) -> pd.DataFrame:
    """Gather the grid points' ``result.json`` into ``summary.tsv``; the lowest ``score``
    (:func:`selection_score`) is ``selected`` (ties: first by name)."""
    rows = [json.loads(Path(p).read_text()) for p in results]
    if not rows:
        raise ValueError("no selection results to summarise")
    missing = [str(p) for p, row in zip(results, rows, strict=True) if "score" not in row]
    if missing:
        raise ValueError(f"selection results without a score (written by an older version; rerun "
                         f"those grid points): {', '.join(missing)}")
    modes = {row["select_epoch"] for row in rows}
    if len(modes) > 1:
        raise ValueError(f"selection results disagree on train.select_epoch ({sorted(modes)}): "
                         "rerun the grid with one setting")
    frame = pd.DataFrame(rows)
    frame["settings"] = frame["settings"].map(lambda s: json.dumps(s, sort_keys=True))
    frame = frame.sort_values(["score", "params"], na_position="last").reset_index(drop=True)
    frame["selected"] = 0
    frame.loc[0, "selected"] = 1
    frame = frame[list(SUMMARY_COLUMNS)]
    write_table(out_path, frame)
    log.info("selected %s (%s validation loss %.4f; final run: %s epochs)", frame.loc[0, "params"],
             frame.loc[0, "select_epoch"], frame.loc[0, "score"], frame.loc[0, "final_epochs"])
    return frame


#: the final run's training loss may exceed the selection run's by this factor (same epochs)
FINAL_LOSS_TOLERANCE = 1.25


def _selected_row(summary_path: str | Path) -> pd.Series:
    from glioma.data.splits import read_table

    frame = read_table(summary_path)
    return frame[frame["selected"] == "1"].iloc[0]


def selected_run_dir(summary_path: str | Path) -> Path:
    """Folder of the selected grid point's run (next to ``summary.tsv``, named by ``params``)."""
    return Path(summary_path).parent / str(_selected_row(summary_path)["params"])


def compare_training_curves(final: pd.DataFrame, selection: pd.DataFrame, *, window: int = 3,
                            tolerance: float = FINAL_LOSS_TOLERANCE) -> dict:
    """The final run trains without validation, so nothing else would notice if it diverged:
    its mean training loss over its last ``window`` epochs against the selection run's over the
    same epochs (the selection trained at least as long). ``status``: ``ok``, ``diverged``
    (ratio above ``tolerance``) or ``not compared`` (no common epochs)."""
    epochs = sorted(set(final["epoch"].astype(int)) & set(selection["epoch"].astype(int)))[-window:]
    if not epochs:
        return {"status": "not compared", "epochs": [], "tolerance": tolerance}
    f = float(final.set_index(final["epoch"].astype(int)).loc[epochs, "train_loss"].mean())
    s = float(selection.set_index(selection["epoch"].astype(int)).loc[epochs, "train_loss"].mean())
    ratio = f / s if s > 0 else float("inf")
    return {"status": "ok" if ratio <= tolerance else "diverged", "epochs": epochs,
            "final_train_loss": f, "selection_train_loss": s, "ratio": ratio,
            "tolerance": tolerance}


def selected_from_summary(summary_path: str | Path) -> tuple[dict, int]:
    """(grid parameters, epochs for the final run) of the selected grid point
    (:func:`selection_score`)."""
    row = _selected_row(summary_path)
    return json.loads(row["settings"]), int(float(row["final_epochs"]))


def final_run(out_dir: str | Path, splits_path: str | Path, preprocess_root: str | Path,
              settings: ModelSettings, epochs: int, params: dict | None = None,
              selection: dict | None = None,
              reference: pd.DataFrame | None = None) -> RunResult:
    """Retrain with the chosen settings on the whole training set (folds train + val) for the
    selected number of epochs, then write the model artefact into ``out_dir``. ``reference``:
    the selected run's per-epoch history; its training curve is compared with this run's
    (:func:`compare_training_curves`, recorded in ``model.json`` and the model card)."""
    from glioma.model.artefact import save_artefact

    out_dir = Path(out_dir)
    dm = fold_datamodule(splits_path, preprocess_root, settings, ("train", "val"), ())
    result = train_run(out_dir, settings, datamodule=dm, has_validation=False, max_epochs=epochs)
    if result.is_global_zero:
        training = {"patients": len(dm.train_records), "epochs": epochs,
                    "selected_params": params or {}, "selection": selection or {}}
        if settings.train.refit_heads:  # after the checkpoint: a resumed run refits the same way
            from glioma.model.refit import refit_heads

            training["refit_heads"] = refit_heads(
                result.module.net, dm.train_records or [],
                balanced=settings.train.class_weights == "prevalence", seed=settings.train.seed)
        if reference is not None:
            check = result.curve_check = compare_training_curves(result.history, reference)
            training["curve_check"] = check
            if check["status"] == "diverged":
                log.warning("final run %s: training loss %.4g over epochs %s is %.2f x the selection "
                            "run's (%.4g; tolerance %.2f): the final model may have diverged",
                            out_dir, check["final_train_loss"], check["epochs"], check["ratio"],
                            check["selection_train_loss"], check["tolerance"])
        save_artefact(
            out_dir, result.module.net, settings,
            spatial_shape=dm.spatial_shape,
            training=training,
        )
    return result
