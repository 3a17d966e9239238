"""Per-patient records, the cached dataset and the paper's augmentation (MONAI).

A record is one preprocessed patient held in memory: ``image`` (4, D, H, W) float32 in
:data:`glioma.schema.SEQUENCES` order, ``seg`` (1, D, H, W) uint8 (zeros when none), ``has_seg``
and the class indices of the three tasks (``-1`` = unknown; grade 2/3/4 -> 0/1/2).

Augmentation (training only) follows the paper: rotation, brightness, contrast and cropping, as
MONAI dictionary transforms. Every draw is seeded from ``(seed, epoch, index)`` so that a sample's
augmentation does not depend on worker count, process count or on a restart from a checkpoint.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai import transforms as mt
from monai.data import get_track_meta, set_track_meta
from torch.utils.data import Dataset, Sampler

from glioma.errors import ConfigError, InputError
from glioma.schema import PREPROCESS_FILES, SEQUENCES, UNKNOWN

log = logging.getLogger(__name__)

GRADES: tuple[int, ...] = (2, 3, 4)
LABEL_MAPS: dict[str, dict[str, int]] = {
    "idh": {"wildtype": 0, "mutated": 1},
    "codeletion": {"intact": 0, "codeleted": 1},
    "grade": {"2": 0, "3": 1, "4": 2},
    "seg": {"background": 0, "tumour": 1},
}
"""Class index of each task's classes (network outputs are in this order)."""


def label_to_index(task: str, value: str | int | float | None) -> int:
    """Unified label (text or number; empty = unknown) -> class index or -1."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    text = str(value).strip()
    if text == "":
        return UNKNOWN
    number = int(float(text))
    if task == "grade":
        if number not in GRADES:
            raise ValueError(f"grade must be 2, 3 or 4, got {text!r}")
        return GRADES.index(number)
    if number not in (0, 1):
        raise ValueError(f"{task} must be 0 or 1, got {text!r}")
    return number


def index_to_label(task: str, index: int) -> str:
    """Class index -> unified label text ('' for unknown)."""
    if index == UNKNOWN:
        return ""
    return str(GRADES[index]) if task == "grade" else str(index)


@dataclass(frozen=True)
class AugmentationConfig:
    """The paper's augmentation. Angles in degrees; ``crop_fraction`` < 1 crops a random box of
    that size and pads it back (a random translation with loss of the border)."""

    enabled: bool = True
    prob: float = 0.5
    rotate_deg: float = 10.0
    brightness: float = 0.1
    contrast: float = 0.1
    crop_fraction: float = 0.9
    #: scanner appearance (off at 0): a gamma curve with ``|log gamma|`` up to this (per patient,
    #: all sequences, mean and spread kept), and a Gaussian blur of up to this many voxels (sigma,
    #: per axis), as thick slices and coarser scanners give
    gamma: float = 0.0
    blur_sigma: float = 0.0
    #: probability of a left-right mirror image (off at 0): the atlas grid's first axis is
    #: left-right (checked against the affine when the dataset is built). Gliomas arise in either
    #: hemisphere, so the mirror is a patient the model could have seen; nnU-Net mirrors too.
    flip_lr: float = 0.0
    #: brightness and contrast drawn per sequence (nnU-Net does so) instead of one draw for all
    #: four: the sequences' relative intensities vary between scanners
    channel_wise: bool = False
    #: probability of setting one input sequence, chosen at random, to zero (the brain's mean
    #: after z-scoring, as ``model.drop_sequences`` does): the network cannot lean on one sequence
    #: alone (0: off)
    drop_sequence: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> AugmentationConfig:
        values = values or {}
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"train.augmentation: unknown key(s) {', '.join(unknown)}; "
                              f"known: {', '.join(cls.__dataclass_fields__)}")
        return cls(**values)


def build_augmentation(config: AugmentationConfig, spatial_shape: Sequence[int]) -> mt.Compose:
    """MONAI dictionary transforms over ``image`` and ``seg`` (seg resampled nearest)."""
    angle = math.radians(config.rotate_deg)
    shape = [int(s) for s in spatial_shape]
    crop = [max(1, int(round(s * config.crop_fraction))) for s in shape]
    return mt.Compose(
        [
            *([mt.RandFlipd(keys=["image", "seg"], spatial_axis=0, prob=config.flip_lr)]
              if config.flip_lr > 0 else []),
            mt.RandRotated(
                keys=["image", "seg"],
                range_x=angle,
                range_y=angle,
                range_z=angle,
                prob=config.prob,
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
                keep_size=True,
            ),
            mt.RandShiftIntensityd(keys=["image"], offsets=config.brightness, prob=config.prob,
                                   channel_wise=config.channel_wise),
            mt.RandScaleIntensityd(keys=["image"], factors=config.contrast, prob=config.prob,
                                   channel_wise=config.channel_wise),
            *([mt.RandAdjustContrastd(keys=["image"], prob=config.prob, retain_stats=True,
                                      gamma=(math.exp(-config.gamma), math.exp(config.gamma)))]
              if config.gamma > 0 else []),
            *([mt.RandGaussianSmoothd(keys=["image"], prob=config.prob, sigma_x=(0.0, config.blur_sigma),
                                      sigma_y=(0.0, config.blur_sigma), sigma_z=(0.0, config.blur_sigma))]
              if config.blur_sigma > 0 else []),
            mt.RandSpatialCropd(keys=["image", "seg"], roi_size=crop, random_size=False),
            mt.ResizeWithPadOrCropd(keys=["image", "seg"], spatial_size=shape),
            *([RandDropSequenced(keys=["image"], prob=config.drop_sequence)] if config.drop_sequence > 0 else []),
        ]
    )


class RandDropSequenced(mt.RandomizableTransform, mt.MapTransform):
    """With probability ``prob``, set one channel of each ``keys`` image, drawn uniformly, to
    zero (``augmentation.drop_sequence``). MONAI has no per-channel dropout; as a
    :class:`~monai.transforms.RandomizableTransform` it takes its draws from the state that
    ``Compose.set_random_state`` sets, like the library's own transforms."""

    def __init__(self, keys: Sequence[str], prob: float):
        mt.MapTransform.__init__(self, keys)
        mt.RandomizableTransform.__init__(self, prob)
        self._channel = 0

    def randomize(self, channels: int) -> None:  # type: ignore[override]
        super().randomize(None)
        self._channel = int(self.R.randint(channels))

    def __call__(self, data: dict) -> dict:
        out = dict(data)
        first = out[self.keys[0]]
        self.randomize(int(first.shape[0]))
        if not self._do_transform:
            return out
        for key in self.key_iterator(out):
            image = torch.as_tensor(out[key]).clone()
            image[self._channel] = 0
            out[key] = image
        return out


def _load_volume(path: Path, subject: str) -> nib.Nifti1Image:
    if not path.is_file():
        raise InputError("missing preprocessed volume", subject=subject, path=path)
    try:
        return nib.load(str(path))
    except Exception as err:  # nibabel raises several types for corrupt files
        raise InputError(f"unreadable NIfTI ({err})", subject=subject, path=path) from err


def load_patient(
    folder: str | Path,
    subject: str,
    labels: dict[str, str] | None = None,
    cohort: str = "",
    input_shape: Sequence[int] | None = None,
) -> dict:
    """Load one preprocessed patient folder into a record (see the module docstring)."""
    folder = Path(folder)
    arrays = []
    reference = None
    for sequence in SEQUENCES:
        img = _load_volume(folder / PREPROCESS_FILES[sequence], subject)
        data = np.asarray(img.dataobj, dtype=np.float32)
        if data.ndim != 3:
            raise InputError(f"expected a 3D volume, got shape {data.shape}", subject=subject,
                             path=folder / PREPROCESS_FILES[sequence])
        if reference is None:
            reference = img
        elif data.shape != reference.shape[:3] or not np.allclose(img.affine, reference.affine, atol=1e-3):
            raise InputError(
                f"{sequence} is not on the grid of {SEQUENCES[0]} ({data.shape} vs {reference.shape})",
                subject=subject, path=folder / PREPROCESS_FILES[sequence],
            )
        if not np.isfinite(data).all():
            raise InputError("volume has NaN or infinite values", subject=subject,
                             path=folder / PREPROCESS_FILES[sequence])
        arrays.append(data)
    assert reference is not None
    image = np.stack(arrays)
    seg_path = folder / PREPROCESS_FILES["seg"]
    has_seg = seg_path.is_file()
    if has_seg:
        seg = np.asarray(_load_volume(seg_path, subject).dataobj)
        if seg.shape != image.shape[1:]:
            raise InputError(f"segmentation shape {seg.shape} differs from {image.shape[1:]}",
                             subject=subject, path=seg_path)
        seg = (seg > 0).astype(np.uint8)[None]
    else:
        seg = np.zeros((1, *image.shape[1:]), dtype=np.uint8)
    if input_shape is not None:
        fit = mt.ResizeWithPadOrCrop(spatial_size=[int(s) for s in input_shape])
        image = np.asarray(fit(image), dtype=np.float32)
        seg = np.asarray(fit(seg), dtype=np.uint8)
    labels = labels or {}
    record = {
        "cohort": cohort,
        "subject": subject,
        "image": image,
        "seg": seg,
        "has_seg": int(has_seg),
        "affine": reference.affine,
    }
    for task in ("idh", "codeletion", "grade"):
        try:
            record[task] = label_to_index(task, labels.get(task, ""))
        except ValueError as err:
            raise InputError(str(err), subject=subject) from err
    return record


def check_left_right_first(record: dict) -> None:
    """Raise :class:`ConfigError` unless the record's first voxel axis runs left-right (its
    affine's first column along world x), as ``augmentation.flip_lr`` assumes."""
    affine = record.get("affine")
    if affine is None:
        return
    column = np.abs(np.asarray(affine, dtype=float)[:3, 0])
    if column[0] <= column[1:].max():
        raise ConfigError(
            f"train.augmentation.flip_lr: the first voxel axis of {record.get('subject', '?')} "
            f"does not run left-right (affine column {np.round(column, 3).tolist()}); "
            "the atlas-space grid of glioma preprocess does")


class PatientDataset(Dataset):
    """In-memory (cached) records; ``dataset[(epoch, index)]`` draws a seeded augmentation.

    ``dataset[index]`` (an int) returns the record without augmentation.
    """

    def __init__(self, records: Sequence[dict], augmentation: AugmentationConfig | None = None,
                 seed: int = 0):
        self.records = list(records)
        self.seed = int(seed)
        self.augmentation = augmentation
        self._transform = None
        if augmentation is not None and augmentation.enabled and self.records:
            if augmentation.flip_lr > 0:
                check_left_right_first(self.records[0])
            self._transform = build_augmentation(augmentation, self.records[0]["image"].shape[1:])

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        if isinstance(key, tuple):
            epoch, index = key
        else:
            epoch, index = None, key
        record = self.records[index]
        image = torch.from_numpy(record["image"])
        seg = torch.from_numpy(record["seg"])
        if self._transform is not None and epoch is not None:
            seg = seg.float()
        if self._transform is not None and epoch is not None:
            entropy = np.random.SeedSequence([self.seed, int(epoch), int(index)])
            self._transform.set_random_state(seed=int(entropy.generate_state(1)[0]))
            # plain tensors through MONAI: its metadata tracking (a MetaTensor and its history per
            # transform) cost 3 of the 19 ms an augmented demo patient takes; nothing reads it here
            tracking = get_track_meta()
            set_track_meta(False)
            try:
                out = self._transform({"image": image, "seg": seg})
            finally:
                set_track_meta(tracking)
            image = torch.as_tensor(out["image"]).as_subclass(torch.Tensor).float().contiguous()
            seg = torch.as_tensor(out["seg"]).as_subclass(torch.Tensor).round().to(torch.uint8)
        return {
            "image": image,
            "seg": seg[0].long(),
            "has_seg": torch.tensor(record["has_seg"], dtype=torch.long),
            "idh": torch.tensor(record["idh"], dtype=torch.long),
            "codeletion": torch.tensor(record["codeletion"], dtype=torch.long),
            "grade": torch.tensor(record["grade"], dtype=torch.long),
            "index": torch.tensor(index, dtype=torch.long),
        }


class EpochSampler(Sampler):
    """Yields ``(epoch, index)``: a seeded permutation per epoch, sharded over DDP ranks.

    Rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of the epoch's order, so a global batch
    of ``w * b`` is the same samples as one process with batch size ``w * b``. The order is padded
    by wrapping so that every rank gets the same number of samples.
    """

    def __init__(self, n: int, *, shuffle: bool = True, seed: int = 0, num_replicas: int = 1,
                 rank: int = 0):
        self.n = n
        self.shuffle = shuffle
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _order(self) -> list[int]:
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            order = rng.permutation(self.n).tolist()
        else:
            order = list(range(self.n))
        total = math.ceil(self.n / self.num_replicas) * self.num_replicas
        order += order[: total - len(order)]
        return order

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self._order()
        for index in order[self.rank :: self.num_replicas]:
            yield (self.epoch, index)

    def __len__(self) -> int:
        return math.ceil(self.n / self.num_replicas)
