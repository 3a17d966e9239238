"""The LightningDataModule: splits table -> cached datasets -> seeded loaders."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
from torch.utils.data import DataLoader
from tqdm import tqdm

from glioma.data.dataset import AugmentationConfig, EpochSampler, PatientDataset, load_patient
from glioma.errors import InputError

log = logging.getLogger(__name__)


def load_records(
    splits: pd.DataFrame,
    preprocess_root: str | Path,
    folds: Sequence[str],
    input_shape: Sequence[int] | None = None,
) -> list[dict]:
    """Load the patients of ``folds`` into memory; bad patients are logged and skipped."""
    chosen = splits[splits["fold"].isin(list(folds))]
    records = []
    for row in tqdm(chosen.to_dict("records"), desc=f"loading {'+'.join(folds)}", leave=False):
        folder = Path(preprocess_root) / row["cohort"] / row["subject"]
        try:
            records.append(
                load_patient(folder, row["subject"], labels=row, cohort=row["cohort"],
                             input_shape=input_shape)
            )
        except InputError as err:
            log.warning("skipping %s/%s: %s", row["cohort"], row["subject"], err)
    shapes = {r["image"].shape for r in records}
    if len(shapes) > 1:
        raise InputError(
            f"preprocessed volumes have different shapes {sorted(shapes)}; set model.input_shape "
            "or preprocess to one grid"
        )
    return records


def records_digest(records: Sequence[dict]) -> str:
    """SHA-256 over what training sees of ``records``, in order: each patient's cohort, id,
    labels, whether it has a segmentation, and the bytes of its image and mask (after any
    ``input_shape`` crop). Two runs with the same digest trained on the same data."""
    h = hashlib.sha256()
    for r in records:
        meta = [r["cohort"], r["subject"], int(r["has_seg"]), int(r["idh"]), int(r["codeletion"]),
                int(r["grade"]), list(r["image"].shape), str(r["image"].dtype), str(r["seg"].dtype)]
        h.update(json.dumps(meta).encode())
        h.update(np.ascontiguousarray(r["image"]).data)
        h.update(np.ascontiguousarray(r["seg"]).data)
    return h.hexdigest()


class GliomaDataModule(pl.LightningDataModule):
    """Training (augmented, shuffled, sharded over ranks) and validation (full, every rank) data.

    Either give ``splits`` + ``preprocess_root`` (volumes are loaded once, in ``setup``) or
    ready ``train_records`` / ``val_records`` (tests).
    """

    def __init__(
        self,
        splits: pd.DataFrame | None = None,
        preprocess_root: str | Path | None = None,
        *,
        train_folds: Sequence[str] = ("train",),
        val_folds: Sequence[str] = ("val",),
        batch_size: int = 2,
        augmentation: AugmentationConfig | None = None,
        seed: int = 42,
        num_workers: int = 0,
        input_shape: Sequence[int] | None = None,
        train_records: list[dict] | None = None,
        val_records: list[dict] | None = None,
    ):
        super().__init__()
        self.splits = splits
        self.preprocess_root = preprocess_root
        self.train_folds = tuple(train_folds)
        self.val_folds = tuple(val_folds)
        self.batch_size = batch_size
        self.augmentation = augmentation or AugmentationConfig()
        self.seed = seed
        self.num_workers = num_workers
        self.input_shape = input_shape
        self.train_records = train_records
        self.val_records = val_records

    def setup(self, stage: str | None = None) -> None:
        if self.train_records is None:
            if self.splits is None or self.preprocess_root is None:
                raise ValueError("give splits and preprocess_root, or records")
            self.train_records = load_records(
                self.splits, self.preprocess_root, self.train_folds, self.input_shape
            )
            self.val_records = (
                load_records(self.splits, self.preprocess_root, self.val_folds, self.input_shape)
                if self.val_folds
                else []
            )
        if not self.train_records:
            raise InputError(f"no training patients in folds {self.train_folds}")
        if self.val_folds and not self.val_records:
            raise InputError(
                f"no validation patients in folds {self.val_folds}: model selection needs a "
                "validation hold-out (cohort.validation_fraction > 0 and enough training patients)")
        log.info("data: %d training, %d validation patients", len(self.train_records),
                 len(self.val_records or []))

    def data_fingerprint(self) -> dict:
        """Patient counts and :func:`records_digest` of the training and validation data
        (call after ``setup``)."""
        assert self.train_records is not None
        val = self.val_records or []
        return {"n_train": len(self.train_records), "train": records_digest(self.train_records),
                "n_val": len(val), "val": records_digest(val)}

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        assert self.train_records
        return tuple(self.train_records[0]["image"].shape[1:])

    def train_labels(self, task: str) -> list[int]:
        assert self.train_records is not None
        return [int(r[task]) for r in self.train_records]

    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return trainer.world_size, trainer.global_rank

    def train_dataloader(self) -> DataLoader:
        world, rank = self._world()
        dataset = PatientDataset(self.train_records, self.augmentation, seed=self.seed)
        sampler = EpochSampler(len(dataset), shuffle=True, seed=self.seed,
                               num_replicas=world, rank=rank)
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler,
                          num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader | list:
        if not self.val_records:
            return []
        dataset = PatientDataset(self.val_records, augmentation=None, seed=self.seed)
        # not sharded: every rank evaluates the whole (small) validation set, so that the
        # validation metrics are exact and equal on every rank without gathering.
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)
