"""Masked losses: unknown labels and missing segmentations contribute nothing (value and gradient)."""

import pytest
import torch

from glioma.model.losses import (
    MultiTaskLoss,
    class_weights_from_prevalence,
    masked_cross_entropy,
    masked_dice_loss,
    masked_seg_cross_entropy,
)


def test_unknown_labels_do_not_change_loss_and_get_zero_gradient():
    torch.manual_seed(0)
    logits = torch.randn(5, 2, requires_grad=True)
    target = torch.tensor([1, -1, 0, -1, 1])
    loss = masked_cross_entropy(logits, target)
    loss.backward()
    assert torch.all(logits.grad[[1, 3]] == 0)
    assert torch.all(logits.grad[[0, 2, 4]].abs().sum(dim=1) > 0)
    # changing the logits of unknown samples changes nothing
    other = logits.detach().clone()
    other[[1, 3]] = torch.randn(2, 2) * 10
    assert masked_cross_entropy(other, target).item() == pytest.approx(loss.item())
    # equal to plain cross-entropy on the known subset
    known = torch.nn.functional.cross_entropy(logits.detach()[[0, 2, 4]], target[[0, 2, 4]])
    assert loss.item() == pytest.approx(known.item())


def test_all_unknown_gives_zero_loss_with_zero_gradient():
    logits = torch.randn(3, 3, requires_grad=True)
    loss = masked_cross_entropy(logits, torch.full((3,), -1))
    loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None and torch.all(logits.grad == 0)


def test_class_weights_from_prevalence():
    w = class_weights_from_prevalence([0, 0, 0, 1, -1, -1], 2)
    assert w[1] == pytest.approx(3 * w[0])
    assert sum(w) / 2 == pytest.approx(1.0)
    assert class_weights_from_prevalence([-1, -1], 3) == [1.0, 1.0, 1.0]
    # weighted loss favours the rare class
    logits = torch.zeros(4, 2, requires_grad=True)
    masked_cross_entropy(logits, torch.tensor([0, 0, 0, 1]), torch.tensor(w)).backward()
    assert logits.grad[3].abs().sum() > logits.grad[0].abs().sum()


def test_dice_loss_masked_where_no_segmentation():
    torch.manual_seed(0)
    seg_logits = torch.randn(3, 2, 6, 6, 6, requires_grad=True)
    target = (torch.rand(3, 6, 6, 6) > 0.5).long()
    has_seg = torch.tensor([1, 0, 1])
    loss = masked_dice_loss(seg_logits, target, has_seg)
    loss.backward()
    assert torch.all(seg_logits.grad[1] == 0)
    assert seg_logits.grad[0].abs().sum() > 0
    none = torch.zeros(3)
    logits2 = seg_logits.detach().clone().requires_grad_(True)
    zero = masked_dice_loss(logits2, target, none)
    zero.backward()
    assert zero.item() == 0.0 and torch.all(logits2.grad == 0)


def test_dice_ce_adds_voxel_cross_entropy_only_where_a_segmentation_exists():
    torch.manual_seed(1)
    seg_logits = torch.randn(3, 2, 5, 5, 5, requires_grad=True)
    target = (torch.rand(3, 1, 5, 5, 5) > 0.7).long()
    has_seg = torch.tensor([0, 1, 1])
    batch = {"idh": torch.tensor([-1, -1, -1]), "codeletion": torch.tensor([-1, -1, -1]),
             "grade": torch.tensor([-1, -1, -1]), "seg": target, "has_seg": has_seg}
    outputs = {"idh": torch.zeros(3, 2), "codeletion": torch.zeros(3, 2),
               "grade": torch.zeros(3, 3), "seg": seg_logits}
    total, parts = MultiTaskLoss(seg_loss="dice_ce")(outputs, batch)
    expected_ce = torch.nn.functional.cross_entropy(seg_logits[1:], target[1:, 0])
    expected = masked_dice_loss(seg_logits, target, has_seg) + expected_ce
    assert torch.allclose(parts["seg"], expected)
    assert torch.allclose(masked_seg_cross_entropy(seg_logits, target, has_seg), expected_ce)
    total.backward()
    assert torch.all(seg_logits.grad[0] == 0) and seg_logits.grad[1:].abs().sum() > 0
    # where the Dice loss barely moves a background voxel, cross-entropy pushes it to background
    dice_only = torch.autograd.grad(masked_dice_loss(seg_logits, target, has_seg), seg_logits)[0]
    both = torch.autograd.grad(MultiTaskLoss(seg_loss="dice_ce")(outputs, batch)[0], seg_logits)[0]
    background = (target[:, 0] == 0) & has_seg.bool().view(-1, 1, 1, 1)
    assert both[:, 1][background].mean() > dice_only[:, 1][background].mean() > 0
    with pytest.raises(ValueError, match="seg_loss"):
        MultiTaskLoss(seg_loss="focal")


def test_perfect_segmentation_has_small_dice_loss():
    target = torch.zeros(1, 8, 8, 8, dtype=torch.long)
    target[0, 2:6, 2:6, 2:6] = 1
    logits = torch.stack([(1 - target) * 20.0, target * 20.0], dim=1).float()
    assert masked_dice_loss(logits, target, torch.ones(1)).item() < 1e-3


def test_multitask_loss_weights_and_masking():
    torch.manual_seed(1)
    outputs = {
        "idh": torch.randn(2, 2, requires_grad=True),
        "codeletion": torch.randn(2, 2, requires_grad=True),
        "grade": torch.randn(2, 3, requires_grad=True),
        "seg": torch.randn(2, 2, 4, 4, 4, requires_grad=True),
    }
    batch = {
        "idh": torch.tensor([1, -1]),
        "codeletion": torch.tensor([-1, -1]),
        "grade": torch.tensor([2, 0]),
        "seg": torch.zeros(2, 4, 4, 4, dtype=torch.long),
        "has_seg": torch.tensor([0, 0]),
    }
    loss_fn = MultiTaskLoss()
    total, parts = loss_fn(outputs, batch)
    expected = 2.26 * parts["idh"] + 3.38 * parts["codeletion"] + 1.33 * parts["grade"] + parts["seg"]
    assert total.item() == pytest.approx(expected.item())
    total.backward()
    assert torch.all(outputs["codeletion"].grad == 0)
    assert torch.all(outputs["seg"].grad == 0)
    assert torch.all(outputs["idh"].grad[1] == 0) and outputs["idh"].grad[0].abs().sum() > 0
