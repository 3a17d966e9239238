"""The LightningModule: the network, the masked multi-task loss, metrics and the optimiser.

Per-epoch metrics (train loss, validation loss and its moving average, AUC per task, Dice) are
kept in :attr:`GliomaModule.history` (saved in every checkpoint, so a resumed run continues the
same table) and written to ``metrics_path`` after every epoch by rank zero.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from sklearn.metrics import roc_auc_score

from glioma.io.atomic import write_table
from glioma.model.losses import MultiTaskLoss
from glioma.model.network import TASKS, NetworkConfig, PSNet

log = logging.getLogger(__name__)


def task_auc(task: str, truth: np.ndarray, scores: np.ndarray) -> float:
    """AUC over known labels (binary: score of class 1; grade: one-vs-one macro); NaN if undefined."""
    known = truth >= 0
    truth, scores = truth[known], scores[known]
    if len(np.unique(truth)) < 2:
        return float("nan")
    if scores.shape[1] == 2:
        return float(roc_auc_score(truth, scores[:, 1]))
    present = np.unique(truth)
    if len(present) < scores.shape[1]:  # ovo needs every class; restrict and renormalise
        sub = scores[:, present]
        sub = sub / sub.sum(axis=1, keepdims=True)
        if len(present) == 2:
            return float(roc_auc_score(truth == present[1], sub[:, 1]))
        remap = {c: i for i, c in enumerate(present)}
        return float(roc_auc_score([remap[t] for t in truth], sub, multi_class="ovo", average="macro"))
    return float(roc_auc_score(truth, scores, multi_class="ovo", average="macro"))


def hard_dice(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample Dice of two 0/1 masks (1 when both are empty)."""
    dims = tuple(range(1, prediction.ndim))
    p, t = prediction.float(), target.float()
    inter = (p * t).sum(dim=dims)
    denom = p.sum(dim=dims) + t.sum(dim=dims)
    return torch.where(denom > 0, 2 * inter / denom.clamp(min=1e-8), torch.ones_like(denom))


#: learning-rate schedules: ReduceLROnPlateau (paper) or a cosine decay to 0 over the run
LR_SCHEDULES: tuple[str, ...] = ("plateau", "cosine")


class GliomaModule(pl.LightningModule):
    """Multi-task training of :class:`PSNet`."""

    def __init__(
        self,
        network: dict | None = None,
        lr: float = 1e-5,
        weight_decay: float = 1e-5,
        task_weights: dict[str, float] | None = None,
        class_weights: dict[str, list[float] | None] | None = None,
        plateau_factor: float = 0.5,
        plateau_patience: int = 5,
        ma_window: int = 5,
        seed: int = 42,
        has_validation: bool = True,
        seg_loss: str = "dice",
        lr_schedule: str = "plateau",
    ):
        super().__init__()
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
        self.save_hyperparameters()
        self.net = PSNet(NetworkConfig.from_dict(network or {}))
        self.loss_fn = MultiTaskLoss(task_weights, class_weights, seg_loss=seg_loss)
        self.history: list[dict] = []
        self.metrics_path: Path | None = None
        self._train_sum = torch.zeros(2, dtype=torch.float64)
        self._val: dict[str, list] = {}

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(image)

    # --- training -----------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        self._train_sum = torch.zeros(2, dtype=torch.float64)
        # the history's lr is the rate this epoch trained at (schedulers step at its end)
        self._epoch_lr = float(self.trainer.optimizers[0].param_groups[0]["lr"]) if self.trainer.optimizers else float("nan")

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        # dropout draws depend only on (seed, epoch, batch, rank), not on how much of the global
        # RNG stream data loading used: a resumed run repeats them exactly
        torch.manual_seed(int(np.random.SeedSequence(
            [self.hparams.seed, self.current_epoch, batch_idx, self.global_rank]
        ).generate_state(1)[0]))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        outputs = self.net(batch["image"], batch["seg"], batch["has_seg"])
        loss, parts = self.loss_fn(outputs, batch)
        n = batch["image"].shape[0]
        self._train_sum += torch.tensor([loss.detach().double().item() * n, n], dtype=torch.float64)
        self.log("train_loss_step", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=n)
        return loss

    def _epoch_train_loss(self) -> float:
        total = self._train_sum.clone()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(total)
        return float(total[0] / max(total[1].item(), 1.0))

    # --- validation ---------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val = {"loss": [], "n": [], "dice": [], **{t: [] for t in TASKS},
                     **{f"{t}_truth": [] for t in TASKS}}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        outputs = self.net(batch["image"])
        loss, _ = self.loss_fn(outputs, batch)
        n = batch["image"].shape[0]
        self._val["loss"].append(float(loss) * n)
        self._val["n"].append(n)
        for task in TASKS:
            self._val[task].append(torch.softmax(outputs[task].float(), 1).cpu().numpy())
            self._val[f"{task}_truth"].append(batch[task].cpu().numpy())
        has = batch["has_seg"].bool()
        if has.any():
            pred = outputs["seg"][has].argmax(1)
            self._val["dice"].extend(hard_dice(pred, batch["seg"][has]).cpu().tolist())

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._val.get("n"):
            return
        val_loss = float(np.sum(self._val["loss"]) / np.sum(self._val["n"]))
        past = [row["val_loss"] for row in self.history if "val_loss" in row]
        window = (past + [val_loss])[-self.hparams.ma_window :]
        row = {
            "epoch": self.current_epoch,
            "train_loss": self._epoch_train_loss(),
            "val_loss": val_loss,
            "val_loss_ma": float(np.mean(window)),
            "val_dice": float(np.mean(self._val["dice"])) if self._val["dice"] else float("nan"),
        }
        for task in TASKS:
            row[f"val_auc_{task}"] = task_auc(
                task, np.concatenate(self._val[f"{task}_truth"]), np.concatenate(self._val[task])
            )
        self._record(row)

    def on_train_epoch_end(self) -> None:
        if not self.hparams.has_validation:
            self._record({"epoch": self.current_epoch, "train_loss": self._epoch_train_loss()})

    def _record(self, row: dict) -> None:
        row["lr"] = getattr(self, "_epoch_lr", float("nan"))
        self.history.append(row)
        for key, value in row.items():
            if key != "epoch" and np.isfinite(value):
                self.log(key, value, prog_bar=key in {"val_loss", "val_dice"}, sync_dist=False,
                         rank_zero_only=False)
        if self.metrics_path is not None and self.global_rank == 0:
            write_table(self.metrics_path, pd.DataFrame(self.history))
        log.info("epoch %d: %s", row["epoch"],
                 ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"))

    # --- checkpoint state -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["glioma_history"] = list(self.history)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get("glioma_history", []))

    # --- optimiser ----------------------------------------------------------------------------
    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        if self.hparams.get("lr_schedule", "plateau") == "cosine":
            # one half cosine from lr to 0 over the run's epochs: the last epochs take small
            # steps, so the last-epoch weights (the final run has no validation) are settled
            cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(1, int(self.trainer.max_epochs or 1)))
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": cosine, "interval": "epoch"}}
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.hparams.plateau_factor,
            patience=self.hparams.plateau_patience,
        )
        monitor = "val_loss_ma" if self.hparams.has_validation else "train_loss"
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": monitor, "interval": "epoch"}}
