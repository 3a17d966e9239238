"""Records, seeded MONAI augmentation, the epoch sampler and the data module."""

import numpy as np
import pytest
import torch

from glioma.data.datamodule import GliomaDataModule, load_records, records_digest
from glioma.data.dataset import (
    AugmentationConfig,
    EpochSampler,
    PatientDataset,
    index_to_label,
    label_to_index,
    load_patient,
)
from glioma.data.splits import assemble_splits
from glioma.data.toy import make_toy_cohort
from glioma.errors import InputError


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    pre, sheet = make_toy_cohort(root, "c", 6, shape=(12, 14, 10), seed=5, seg_fraction=0.5,
                                 unknown_fraction=0.3)
    splits, _ = assemble_splits({"c": sheet}, {"c": "train"}, pre, 0.3, 0)
    return pre, splits


def test_label_encoding_round_trip():
    assert label_to_index("grade", "4") == 2 and index_to_label("grade", 2) == "4"
    assert label_to_index("idh", "") == -1 and label_to_index("idh", float("nan")) == -1
    assert label_to_index("codeletion", "1.0") == 1
    with pytest.raises(ValueError):
        label_to_index("grade", "1")


def test_load_patient_shapes_and_errors(toy, tmp_path):
    pre, splits = toy
    row = splits.iloc[0].to_dict()
    rec = load_patient(pre / "c" / row["subject"], row["subject"], labels=row)
    assert rec["image"].shape == (4, 12, 14, 10) and rec["image"].dtype == np.float32
    assert rec["seg"].shape == (1, 12, 14, 10)
    padded = load_patient(pre / "c" / row["subject"], row["subject"], input_shape=(16, 16, 8))
    assert padded["image"].shape == (4, 16, 16, 8)
    with pytest.raises(InputError, match="missing preprocessed volume"):
        load_patient(tmp_path, "x1")


def test_augmentation_is_seeded_by_epoch_and_index(toy):
    pre, splits = toy
    records = load_records(splits, pre, ["train", "val"])
    ds = PatientDataset(records, AugmentationConfig(prob=1.0), seed=3)
    a, b = ds[(0, 1)], ds[(0, 1)]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["seg"], b["seg"])
    c = ds[(1, 1)]
    assert not torch.equal(a["image"], c["image"])
    assert a["image"].shape == (4, 12, 14, 10) and a["seg"].shape == (12, 14, 10)
    assert set(torch.unique(a["seg"]).tolist()) <= {0, 1}
    plain = ds[1]
    assert torch.equal(plain["image"], torch.from_numpy(records[1]["image"]))


def test_gamma_and_blur_augmentation_change_appearance_only_when_asked():
    from glioma.data.dataset import build_augmentation

    base = dict(prob=1.0, rotate_deg=0.0, brightness=0.0, contrast=0.0, crop_fraction=1.0)
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.normal(size=(4, 12, 14, 10)).astype(np.float32))
    seg = torch.zeros(1, 12, 14, 10)

    def run(**kw):
        transform = build_augmentation(AugmentationConfig(**base, **kw), (12, 14, 10))
        transform.set_random_state(seed=1)
        return torch.as_tensor(transform({"image": image.clone(), "seg": seg.clone()})["image"]).as_subclass(torch.Tensor).float()

    assert torch.allclose(run(), image, atol=1e-4)  # off by default: the earlier recipe, unchanged
    gamma = run(gamma=0.5)
    assert not torch.allclose(gamma, image)
    # a gamma curve keeps the z-scored mean and spread (retain_stats) and the intensity order
    assert abs(float(gamma.mean() - image.mean())) < 1e-3 and abs(float(gamma.std() - image.std())) < 1e-3
    order = torch.argsort(image.flatten())
    assert bool((gamma.flatten()[order].diff() >= -1e-5).all())
    # a blur smooths: neighbouring voxels become alike
    blurred = run(blur_sigma=1.5)
    assert float(blurred.diff(dim=1).abs().mean()) < 0.8 * float(image.diff(dim=1).abs().mean())


def test_flip_lr_mirrors_image_and_segmentation_along_the_left_right_axis(toy):
    from glioma.data.dataset import build_augmentation, check_left_right_first
    from glioma.errors import ConfigError

    base = dict(prob=1.0, rotate_deg=0.0, brightness=0.0, contrast=0.0, crop_fraction=1.0)
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.normal(size=(4, 12, 14, 10)).astype(np.float32))
    seg = torch.from_numpy((rng.random((1, 12, 14, 10)) > 0.7).astype(np.float32))

    def run(**kw):
        transform = build_augmentation(AugmentationConfig(**base, **kw), (12, 14, 10))
        transform.set_random_state(seed=1)
        out = transform({"image": image.clone(), "seg": seg.clone()})
        return (torch.as_tensor(out["image"]).as_subclass(torch.Tensor),
                torch.as_tensor(out["seg"]).as_subclass(torch.Tensor))

    plain_image, plain_seg = run()  # off by default
    assert torch.allclose(plain_image, image, atol=1e-4) and torch.equal(plain_seg, seg)
    flipped_image, flipped_seg = run(flip_lr=1.0)
    assert torch.allclose(flipped_image, image.flip(1), atol=1e-4) and torch.equal(flipped_seg, seg.flip(1))
    # a patient's record is mirrored in about half of the epochs at flip_lr 0.5
    pre, splits = toy
    records = load_records(splits, pre, ["train", "val"])
    ds = PatientDataset(records, AugmentationConfig(**base, flip_lr=0.5), seed=3)
    mirrored = [torch.allclose(ds[(epoch, 0)]["image"], torch.from_numpy(records[0]["image"]).flip(1), atol=1e-4)
                for epoch in range(40)]
    assert 8 <= sum(mirrored) <= 32
    # the first voxel axis must run left-right
    check_left_right_first(records[0])
    swapped = dict(records[0], affine=np.eye(4)[[1, 0, 2, 3]])
    with pytest.raises(ConfigError, match="does not run left-right"):
        check_left_right_first(swapped)
    with pytest.raises(ConfigError, match="does not run left-right"):
        PatientDataset([swapped], AugmentationConfig(flip_lr=0.5))


def test_channel_wise_intensity_augmentation_draws_per_sequence():
    from glioma.data.dataset import build_augmentation

    image = torch.ones(4, 12, 14, 10)
    seg = torch.zeros(1, 12, 14, 10)

    def sequence_means(**kw):
        transform = build_augmentation(AugmentationConfig(prob=1.0, rotate_deg=0.0, crop_fraction=1.0, **kw),
                                       (12, 14, 10))
        transform.set_random_state(seed=1)
        out = torch.as_tensor(transform({"image": image.clone(), "seg": seg.clone()})["image"])
        return out.as_subclass(torch.Tensor).mean(dim=(1, 2, 3))

    shared = sequence_means()
    assert torch.allclose(shared, shared[0].expand(4)) and not torch.allclose(shared, torch.ones(4))
    per_sequence = sequence_means(channel_wise=True)
    assert float(per_sequence.max() - per_sequence.min()) > 1e-3


def test_drop_sequence_zeroes_one_sequence_with_its_probability():
    from glioma.data.dataset import build_augmentation

    image = torch.ones(4, 12, 14, 10)
    seg = torch.ones(1, 12, 14, 10)
    transform = build_augmentation(AugmentationConfig(prob=0.0, crop_fraction=1.0, drop_sequence=0.5), (12, 14, 10))
    dropped = []
    for seed in range(200):
        transform.set_random_state(seed=seed)
        out = transform({"image": image.clone(), "seg": seg.clone()})
        zero = [c for c in range(4) if not torch.as_tensor(out["image"][c]).any()]
        assert len(zero) <= 1 and torch.as_tensor(out["seg"]).all()  # never more than one; seg untouched
        dropped += zero
    assert 70 <= len(dropped) <= 130 and set(dropped) == {0, 1, 2, 3}
    # seeded like MONAI's own transforms
    transform.set_random_state(seed=3)
    a = transform({"image": image.clone(), "seg": seg.clone()})["image"]
    transform.set_random_state(seed=3)
    b = transform({"image": image.clone(), "seg": seg.clone()})["image"]
    assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))
    off = build_augmentation(AugmentationConfig(prob=0.0, crop_fraction=1.0), (12, 14, 10))
    assert torch.as_tensor(off({"image": image.clone(), "seg": seg.clone()})["image"]).all()


def test_epoch_sampler_shards_like_one_process():
    one = EpochSampler(10, seed=1)
    one.set_epoch(3)
    full = [i for _, i in one]
    shards = []
    for rank in range(2):
        s = EpochSampler(10, seed=1, num_replicas=2, rank=rank)
        s.set_epoch(3)
        shards.append([i for _, i in s])
    # global batch 2 = (rank0[k], rank1[k]) = one process's batch k
    interleaved = [x for pair in zip(*shards, strict=True) for x in pair]
    assert interleaved == full
    one.set_epoch(4)
    assert [i for _, i in one] != full
    assert len(EpochSampler(5, num_replicas=2, rank=1)) == 3


def test_datamodule_loaders(toy):
    pre, splits = toy
    dm = GliomaDataModule(splits, pre, batch_size=2, augmentation=AugmentationConfig(prob=1.0))
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (2, 4, 12, 14, 10)
    assert batch["seg"].dtype == torch.long
    assert set(batch) >= {"idh", "codeletion", "grade", "has_seg"}
    assert len(dm.val_records) == 2


def test_empty_validation_fold_is_a_clear_error(toy):
    """Model selection without validation patients (e.g. validation_fraction 0) stops with a
    message that says so, not deep inside Lightning."""
    pre, splits = toy
    no_val = splits.assign(fold=splits["fold"].replace("val", "train"))
    dm = GliomaDataModule(no_val, pre, batch_size=2, augmentation=AugmentationConfig(prob=0.0))
    with pytest.raises(InputError, match=r"no validation patients in folds \('val',\).*validation_fraction"):
        dm.setup("fit")
    # the final run (no validation folds) is unaffected
    GliomaDataModule(no_val, pre, batch_size=2, val_folds=(),
                     augmentation=AugmentationConfig(prob=0.0)).setup("fit")


def test_records_digest_changes_with_any_patient_label_or_voxel(toy):
    pre, splits = toy
    records = load_records(splits, pre, ["train", "val"])
    base = records_digest(records)
    assert records_digest(load_records(splits, pre, ["train", "val"])) == base  # same data, same digest
    assert records_digest(records[:-1]) != base  # a patient fewer
    assert records_digest(records[::-1]) != base  # the order training draws from
    relabelled = [dict(r) for r in records]
    relabelled[0]["idh"] = 1 - relabelled[0]["idh"] if relabelled[0]["idh"] >= 0 else 0
    assert records_digest(relabelled) != base  # a corrected label
    voxel = [dict(r) for r in records]
    voxel[2]["image"] = voxel[2]["image"].copy()
    voxel[2]["image"][0, 5, 5, 5] += 1e-3
    assert records_digest(voxel) != base  # a re-preprocessed scan
    assert records_digest(records) == base  # and none of that touched the loaded records
