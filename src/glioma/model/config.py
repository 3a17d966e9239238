"""Typed training settings read from the workflow config's ``model:`` and ``train:`` sections."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from glioma.data.dataset import AugmentationConfig
from glioma.errors import ConfigError
from glioma.model.losses import PAPER_TASK_WEIGHTS
from glioma.model.network import NetworkConfig

#: ``train.select_epoch``: the selection run's best epoch (paper) or its last one
SELECT_EPOCHS: tuple[str, ...] = ("best", "last")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, stopping, hardware and reproducibility settings (paper defaults)."""

    max_epochs: int = 100
    batch_size: int = 1
    lr: float = 1e-5
    weight_decay: float = 1e-5
    task_weights: dict[str, float] = field(default_factory=lambda: dict(PAPER_TASK_WEIGHTS))
    class_weights: str = "prevalence"  # prevalence | none
    seg_loss: str = "dice"  # dice (paper) | dice_ce (Dice + voxel cross-entropy)
    lr_schedule: str = "plateau"  # plateau (paper: ReduceLROnPlateau) | cosine (decay to 0)
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    early_stopping_patience: int = 10
    #: what a selection run reports to the grid and the final run: ``best`` (paper) its lowest
    #: validation loss and best epoch + 1 epochs; ``last`` the moving average of the validation
    #: loss at its last epoch and all the epochs it trained (:func:`glioma.model.train.selection_score`)
    select_epoch: str = "best"
    moving_average_window: int = 5
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    seed: int = 42
    deterministic: bool = True
    accelerator: str = "cpu"
    strategy: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    #: 32-true | bf16-mixed | ... (Lightning's) | auto: bf16-mixed where the hardware computes bf16
    #: natively (a GPU with bf16, a CPU with AMX or AVX512-BF16), else 32-true (:func:`resolve_precision`)
    precision: str = "32-true"
    num_workers: int = 0
    threads: int = 2
    progress_bar: bool = True
    #: after the final run, refit the linear heads by cross-validated logistic regression on the
    #: training patients' pooled features (:mod:`glioma.model.refit`; needs ``dense_units: 0``)
    refit_heads: bool = False

    def to_dict(self) -> dict:
        out = asdict(self)
        out["augmentation"] = self.augmentation.to_dict()
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> TrainConfig:
        values = dict(values or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names - {"grid"})  # grid: the workflow's selection, not one run's
        if unknown:
            raise ConfigError(f"train: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        kwargs = {k: v for k, v in values.items() if k in names}
        if "augmentation" in kwargs and not isinstance(kwargs["augmentation"], AugmentationConfig):
            kwargs["augmentation"] = AugmentationConfig.from_dict(kwargs["augmentation"])
        for key in ("lr", "weight_decay", "plateau_factor"):
            if key in kwargs:
                kwargs[key] = float(kwargs[key])
        if kwargs.get("select_epoch", "best") not in SELECT_EPOCHS:
            raise ConfigError(f"train.select_epoch must be one of {', '.join(SELECT_EPOCHS)}, "
                              f"got {kwargs['select_epoch']!r}")
        return cls(**kwargs)


@dataclass(frozen=True)
class ModelSettings:
    """Everything a training run needs besides data: network, training, input size."""

    network: NetworkConfig
    train: TrainConfig
    input_shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        return {
            "network": self.network.to_dict(),
            "train": self.train.to_dict(),
            "input_shape": None if self.input_shape is None else list(self.input_shape),
        }


def native_bf16(accelerator: str) -> bool:
    """Whether ``accelerator`` (cpu | gpu | auto) computes bf16 natively here: a CUDA device with
    bf16 support, or a CPU with AMX tiles or AVX512-BF16. Elsewhere oneDNN emulates bf16
    convolutions, many times slower than fp32 (40x measured on an AVX2-only AMD EPYC)."""
    import torch

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    if accelerator in ("gpu", "cuda"):
        return False
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(bool(check()) for check in checks if check is not None)


def resolve_precision(precision: str, accelerator: str) -> str:
    """Lightning's precision for ``train.precision``: ``auto`` becomes ``bf16-mixed`` where
    :func:`native_bf16`, else ``32-true``; any other value is returned as it is."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if native_bf16(accelerator) else "32-true"


def settings_from_config(config: Mapping[str, Any]) -> ModelSettings:
    """Read ``config["model"]`` and ``config["train"]`` (a workflow config dict)."""
    model = dict(config.get("model") or {})
    train = dict(config.get("train") or {})
    if "seed" not in train and "seed" in config:
        train["seed"] = config["seed"]
    input_shape = model.pop("input_shape", None)
    settings = ModelSettings(
        network=NetworkConfig.from_dict(model),
        train=TrainConfig.from_dict(train),
        input_shape=None if input_shape is None else tuple(int(s) for s in input_shape),
    )
    if settings.train.refit_heads and settings.network.dense_units != 0:
        raise ConfigError("train.refit_heads needs linear heads (model.dense_units: 0), "
                          f"got dense_units {settings.network.dense_units}")
    if settings.train.refit_heads and settings.network.label_structure == "who_classes":
        raise ConfigError("train.refit_heads needs one head per task; model.label_structure "
                          "who_classes has a single 8-class head")
    if settings.train.refit_heads and settings.network.grade_head != "multinomial":
        raise ConfigError("train.refit_heads refits logistic-regression heads: it needs "
                          f"model.grade_head multinomial, got {settings.network.grade_head!r}")
    if settings.network.grade_head == "ordinal" and settings.network.label_structure == "who_classes":
        raise ConfigError("model.grade_head ordinal needs a grade head of its own; "
                          "model.label_structure who_classes derives grade from the eight WHO classes")
    return settings


#: train: keys that do not change what a model learns (bookkeeping and speed only)
NOT_LEARNED: frozenset[str] = frozenset({"threads", "progress_bar", "num_workers", "grid"})


def training_fingerprint(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a workflow config that decides what a trained model learns: the resolved
    network and training settings (defaults filled in) less :data:`NOT_LEARNED`. Training rules
    pass it as a Snakemake param, so that an edited setting reruns training (the params rerun
    trigger) while a changed thread count does not. The grid is left out: each grid point is a
    wildcard of its own."""
    settings = settings_from_config(config).to_dict()
    settings["train"] = {k: v for k, v in settings["train"].items() if k not in NOT_LEARNED}
    return settings


def apply_params(settings: ModelSettings, params: Mapping[str, Any]) -> ModelSettings:
    """Override network or training fields by name (a grid point)."""
    net_fields = {f.name for f in fields(NetworkConfig)}
    train_fields = {f.name for f in fields(TrainConfig)}
    net_over = {k: v for k, v in params.items() if k in net_fields}
    train_over = {k: v for k, v in params.items() if k in train_fields}
    unknown = set(params) - net_fields - train_fields
    if unknown:
        raise ValueError(f"grid parameters {sorted(unknown)} are neither model nor train settings")
    train = TrainConfig.from_dict({**settings.train.to_dict(), **train_over})
    return replace(settings, network=replace(settings.network, **net_over), train=train)


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def grid_points(grid: Mapping[str, list] | None) -> dict[str, dict[str, Any]]:
    """Name -> parameters for the Cartesian product of ``grid`` (``{}`` gives one point
    ``default``). Names look like ``lr0.001-dropout0.25``."""
    if not grid:
        return {"default": {}}
    keys = sorted(grid)
    points = {}
    for values in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        name = "-".join(f"{k}{_format(v)}" for k, v in params.items()).replace("_", "")
        points[name] = params
    return points
