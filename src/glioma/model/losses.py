"""Masked multi-task losses: unknown labels (``-1``) and missing segmentations contribute nothing.

* classification: class-weighted cross-entropy over the samples whose label is known; a batch
  without any known label gives an exact zero that still depends on the logits (so that every
  parameter has a gradient, zero, which DDP needs);
* segmentation: soft Dice of the tumour class over the samples that have a segmentation
  (``has_seg``), ``1 - mean Dice`` (the paper); optionally plus the voxel-wise cross-entropy
  (``seg_loss="dice_ce"``, as nnU-Net: soft Dice alone gives background voxels a gradient of
  order 1/N, so a small network needs far more steps before it stops calling everything tumour);
* deep supervision (``seg_aux`` outputs of a network with ``deep_supervision``): the same
  segmentation loss at every supervised coarser decoder level against the reference averaged
  onto its grid (a soft target), weighted 1/2 per level as nnU-Net, the weights normalised with
  the full-resolution one so the segmentation term keeps its scale
  (:func:`deep_supervision_loss`);
* total: the task-weighted sum (paper: IDH 2.26, 1p/19q 3.38, grade 1.33, segmentation 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from glioma.model.network import TASKS
from glioma.schema import UNKNOWN

PAPER_TASK_WEIGHTS: dict[str, float] = {"idh": 2.26, "codeletion": 3.38, "grade": 1.33, "seg": 1.0}


def class_weights_from_prevalence(labels: Sequence[int], n_classes: int) -> list[float]:
    """Inverse-prevalence class weights over the known labels, normalised to mean 1.

    A class absent from the training labels gets weight 1 (it cannot be learned either way).
    """
    known = np.asarray([int(v) for v in labels if int(v) != UNKNOWN], dtype=int)
    counts = np.bincount(known, minlength=n_classes).astype(float) if known.size else np.zeros(n_classes)
    weights = np.ones(n_classes)
    present = counts > 0
    if present.any():
        weights[present] = counts[present].sum() / (present.sum() * counts[present])
    weights = weights / weights.mean()
    return [float(w) for w in weights]


def masked_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Weighted cross-entropy over samples with ``target != -1`` (weighted mean, like PyTorch)."""
    known = target != UNKNOWN
    if not bool(known.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[known].float(), target[known].long(), weight=weight)


def soft_dice(probability: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-sample soft Dice of a foreground probability map against a 0/1 mask."""
    dims = tuple(range(1, probability.ndim))
    intersection = (probability * target).sum(dim=dims)
    denominator = probability.sum(dim=dims) + target.sum(dim=dims)
    return (2 * intersection + eps) / (denominator + eps)


def _segmented(
    seg_logits: torch.Tensor, seg_target: torch.Tensor, has_seg: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Logits ``(n, C, D, H, W)`` (float32) and class-index target ``(n, D, H, W)`` of the samples
    with ``has_seg``; ``None`` when there is none."""
    mask = has_seg.bool()
    if not bool(mask.any()):
        return None
    target = seg_target[mask]
    if target.ndim == seg_logits.ndim:  # (n, 1, D, H, W)
        target = target[:, 0]
    return seg_logits[mask].float(), target


def masked_dice_loss(
    seg_logits: torch.Tensor, seg_target: torch.Tensor, has_seg: torch.Tensor
) -> torch.Tensor:
    """``1 - mean soft Dice`` of the tumour class over samples with ``has_seg``; else exact zero."""
    picked = _segmented(seg_logits, seg_target, has_seg)
    if picked is None:
        return seg_logits.sum() * 0.0
    logits, target = picked
    return 1.0 - soft_dice(F.softmax(logits, dim=1)[:, 1], target.float()).mean()


def masked_seg_cross_entropy(
    seg_logits: torch.Tensor, seg_target: torch.Tensor, has_seg: torch.Tensor
) -> torch.Tensor:
    """Mean voxel-wise cross-entropy over samples with ``has_seg``; else exact zero."""
    picked = _segmented(seg_logits, seg_target, has_seg)
    if picked is None:
        return seg_logits.sum() * 0.0
    logits, target = picked
    return F.cross_entropy(logits, target.long())


SEG_LOSSES: tuple[str, ...] = ("dice", "dice_ce")


def reduce_target(target: torch.Tensor, n_classes: int, size: Sequence[int]) -> torch.Tensor:
    """Class-index target ``(n, D, H, W)`` -> per-class fractions ``(n, C, *size)``: the one-hot
    target averaged over the input voxels under each coarse voxel (adaptive average pooling;
    each coarse voxel's fractions sum to 1)."""
    one_hot = F.one_hot(target.long(), n_classes).movedim(-1, 1).float()
    return F.adaptive_avg_pool3d(one_hot, tuple(int(s) for s in size))


def soft_seg_loss(logits: torch.Tensor, target: torch.Tensor, seg_loss: str) -> torch.Tensor:
    """The segmentation loss against a soft (per-class fraction) target ``(n, C, ...)``: ``1 -``
    mean soft Dice of the tumour class, plus the voxel cross-entropy with ``dice_ce``. With a
    0/1 target it equals :func:`masked_dice_loss` (+ :func:`masked_seg_cross_entropy`)."""
    loss = 1.0 - soft_dice(F.softmax(logits, dim=1)[:, 1], target[:, 1]).mean()
    if seg_loss == "dice_ce":
        loss = loss + F.cross_entropy(logits, target)
    return loss


def deep_supervision_loss(
    full: torch.Tensor, aux: Sequence[torch.Tensor], seg_target: torch.Tensor, has_seg: torch.Tensor,
    seg_loss: str = "dice",
) -> torch.Tensor:
    """``full``: the full-resolution segmentation loss (already masked); ``aux``: the coarser
    decoder levels' logits, finest first. Returns ``(full + sum_k 2^-k aux_k) / (1 + sum_k
    2^-k)`` over the samples with ``has_seg``; ``full`` alone when none has one."""
    total, norm = full, 1.0
    for k, aux_logits in enumerate(aux, start=1):
        picked = _segmented(aux_logits, seg_target, has_seg)
        if picked is None:
            return full + sum(a.sum() * 0.0 for a in aux)
        logits, target = picked
        weight = 0.5**k
        total = total + weight * soft_seg_loss(logits, reduce_target(target, logits.shape[1], logits.shape[2:]),
                                               seg_loss)
        norm += weight
    return total / norm


class MultiTaskLoss(torch.nn.Module):
    """Task-weighted sum of the masked losses; returns ``(total, {task: loss})``."""

    def __init__(
        self,
        task_weights: Mapping[str, float] | None = None,
        class_weights: Mapping[str, Sequence[float] | None] | None = None,
        seg_loss: str = "dice",
    ):
        super().__init__()
        if seg_loss not in SEG_LOSSES:
            raise ValueError(f"seg_loss must be one of {SEG_LOSSES}, got {seg_loss!r}")
        self.seg_loss = seg_loss
        self.task_weights = dict(PAPER_TASK_WEIGHTS if task_weights is None else task_weights)
        class_weights = class_weights or {}
        for task in TASKS:
            w = class_weights.get(task)
            self.register_buffer(
                f"cw_{task}", None if w is None else torch.as_tensor(w, dtype=torch.float32)
            )

    def forward(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts: dict[str, torch.Tensor] = {}
        for task in TASKS:
            parts[task] = masked_cross_entropy(outputs[task], batch[task], getattr(self, f"cw_{task}"))
        parts["seg"] = masked_dice_loss(outputs["seg"], batch["seg"], batch["has_seg"])
        if self.seg_loss == "dice_ce":
            parts["seg"] = parts["seg"] + masked_seg_cross_entropy(
                outputs["seg"], batch["seg"], batch["has_seg"])
        aux = outputs.get("seg_aux")
        if aux:
            parts["seg"] = deep_supervision_loss(parts["seg"], aux, batch["seg"], batch["has_seg"],
                                                 self.seg_loss)
        total = sum(self.task_weights.get(name, 0.0) * value for name, value in parts.items())
        return total, parts
