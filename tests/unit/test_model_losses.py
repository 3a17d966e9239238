"""Masked losses: unknown labels and missing segmentations contribute nothing (value and gradient)."""

import pytest
import torch

from glioma.model.losses import (
    MultiTaskLoss,
    class_weights_from_prevalence,
    deep_supervision_loss,
    masked_cross_entropy,
    masked_dice_loss,
    masked_seg_cross_entropy,
    reduce_target,
    soft_seg_loss,
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


def test_reduce_target_averages_the_one_hot_reference_onto_the_coarse_grid():
    target = torch.zeros(1, 6, 6, 6, dtype=torch.long)
    target[0, :3, :3, :3] = 1  # exactly the first coarse voxel of a 2x2x2 grid
    target[0, 3, 3, 3] = 1  # one voxel of 27 in the last one
    soft = reduce_target(target, 2, (2, 2, 2))
    assert soft.shape == (1, 2, 2, 2, 2)
    assert torch.allclose(soft.sum(1), torch.ones(1, 2, 2, 2))
    assert soft[0, 1, 0, 0, 0] == 1 and soft[0, 1, 1, 1, 1] == pytest.approx(1 / 27)
    assert soft[0, 1, 0, 1, 0] == 0
    # at the same grid it is the one-hot target, and the soft loss the masked one
    logits = torch.randn(1, 2, 6, 6, 6)
    same = reduce_target(target, 2, (6, 6, 6))
    for kind in ("dice", "dice_ce"):
        expected = masked_dice_loss(logits, target, torch.ones(1))
        if kind == "dice_ce":
            expected = expected + masked_seg_cross_entropy(logits, target, torch.ones(1))
        assert torch.allclose(soft_seg_loss(logits, same, kind), expected, atol=1e-6)


def test_deep_supervision_loss_weights_levels_by_half_and_masks_missing_segmentations():
    torch.manual_seed(2)
    target = (torch.rand(3, 8, 8, 8) > 0.6).long()
    has_seg = torch.tensor([1, 0, 1])
    full = torch.tensor(0.7)
    aux = [torch.randn(3, 2, 4, 4, 4, requires_grad=True), torch.randn(3, 2, 2, 2, 2, requires_grad=True)]
    loss = deep_supervision_loss(full, aux, target, has_seg, "dice_ce")
    keep = has_seg.bool()
    level = [soft_seg_loss(a[keep], reduce_target(target[keep], 2, a.shape[2:]), "dice_ce") for a in aux]
    assert torch.allclose(loss, (full + 0.5 * level[0] + 0.25 * level[1]) / 1.75)
    loss.backward()
    for a in aux:  # the patient without a segmentation gets no gradient
        assert torch.all(a.grad[1] == 0) and a.grad[0].abs().sum() > 0
    # no segmentation in the batch: the full-resolution loss alone, zero gradient to the heads
    aux2 = [a.detach().clone().requires_grad_(True) for a in aux]
    alone = deep_supervision_loss(full, aux2, target, torch.zeros(3), "dice")
    alone.backward()
    assert alone.item() == pytest.approx(0.7) and all(torch.all(a.grad == 0) for a in aux2)


def test_multitask_loss_adds_the_deep_supervision_of_the_network_outputs():
    torch.manual_seed(3)
    target = (torch.rand(2, 1, 8, 8, 8) > 0.6).long()
    batch = {"idh": torch.tensor([0, 1]), "codeletion": torch.tensor([-1, 0]),
             "grade": torch.tensor([2, 0]), "seg": target, "has_seg": torch.tensor([1, 1])}
    outputs = {"idh": torch.randn(2, 2), "codeletion": torch.randn(2, 2), "grade": torch.randn(2, 3),
               "seg": torch.randn(2, 2, 8, 8, 8)}
    fn = MultiTaskLoss(seg_loss="dice_ce")
    _, plain = fn(outputs, batch)
    aux = [torch.randn(2, 2, 4, 4, 4)]
    total, parts = fn({**outputs, "seg_aux": aux}, batch)
    assert torch.allclose(parts["seg"], deep_supervision_loss(plain["seg"], aux, target, batch["has_seg"], "dice_ce"))
    assert not torch.allclose(parts["seg"], plain["seg"])
    assert all(torch.equal(parts[t], plain[t]) for t in ("idh", "codeletion", "grade"))
