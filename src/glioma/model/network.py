"""The multi-task network of the paper ("PSNET" in PrognosAIs): a plain ``nn.Module``.

A 3D U-Net-like encoder-decoder over the whole preprocessed volume (channels in
:data:`glioma.schema.SEQUENCES` order). The first downsampling is a large strided convolution
(kernel 9, stride 3) with a matching transposed convolution on the way up; the later ones are 2x
max pooling / 2x transposed convolutions. Every encoder and decoder level is globally max-pooled,
the pooled vectors are concatenated, passed through dropout and three dense heads (IDH, 1p/19q,
grade). A 1x1x1 convolution gives the segmentation logits (softmax over background/tumour).

The module knows nothing of Lightning, losses or data files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from glioma.errors import ConfigError
from glioma.schema import SEQUENCES, WHO_CLASSES

TASKS: tuple[str, ...] = ("idh", "codeletion", "grade")
"""Classification tasks, in this order everywhere (heads, losses, predictions)."""


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture settings. Defaults are the paper's (1 mm, 32 base filters, depth 5)."""

    in_channels: int = 4
    base_filters: int = 32
    depth: int = 5
    first_kernel: int = 9
    first_stride: int = 3
    #: hidden units of each dense head (paper 512); 0: a linear head (one layer, no hidden units)
    dense_units: int = 512
    dropout: float = 0.25
    norm: str = "batch"  # batch | instance | group
    n_classes: dict[str, int] = field(
        default_factory=lambda: {"idh": 2, "codeletion": 2, "grade": 3}
    )
    seg_classes: int = 2
    #: initial tumour probability of the segmentation head (its bias set to the prior's log-odds,
    #: as RetinaNet does for rare classes): training starts from "mostly background" instead of
    #: spending its first hundreds of steps unlearning "everything is tumour"
    seg_prior: float = 0.01
    #: activation of the dense heads: relu (paper) | leaky_relu (slope 0.01). The pooled features
    #: are all positive maxima, so one large step can push every ReLU unit of a head below zero
    #: for every patient at once; measured on small CPU runs: a head with no live unit left
    #: (constant predictions, AUC 0.5) in about half of the runs. Leaky units cannot die.
    head_activation: str = "relu"
    activation_checkpointing: bool = False
    #: channels-last 3D memory layout (on CPU 10-80x faster convolution backward at few channels)
    channels_last: bool = True
    #: input sequences set to zero before the first layer, in training and inference alike (the
    #: sequence-ablation experiment: a model trained and tested without these sequences)
    drop_sequences: tuple[str, ...] = ()
    #: what the dense heads see: ``global`` (paper) the global max of every level; ``tumour``
    #: also first-order statistics inside the predicted tumour (see :func:`tumour_statistics`);
    #: ``tumour_only`` those statistics alone (no global maxima: 3 x ``tumour_contrasts`` + 4
    #: features instead of some hundred, most of them maxima on healthy anatomy)
    pooling: str = "global"
    #: ``pooling: tumour``: learned contrasts (a 1x1x1 convolution of the input sequences) whose
    #: maximum, minimum and mean inside the predicted tumour the heads get
    tumour_contrasts: int = 8
    #: ``pooling: tumour``: kernel size of the contrasts' convolution (1: per-voxel contrasts of
    #: the sequences; 3: with their 3x3x3 neighbourhood, e.g. small dark or bright foci)
    tumour_kernel: int = 1
    #: ``pooling: tumour``, in training only: ``predicted`` gates with the network's own
    #: segmentation (as at inference); ``reference`` with the reference segmentation where the
    #: patient has one (clean statistics from the first epoch, before the segmentation is learnt)
    tumour_gate: str = "predicted"
    #: how the three classification outputs relate: ``independent`` (paper) three softmax heads;
    #: ``codeletion_within_idh``: P(co-deleted) = P(IDH mutant) x P(co-deleted | IDH mutant), the
    #: 1p/19q head giving the second factor (:func:`codeletion_within_idh`); ``who_classes``: one
    #: head over the eight WHO 2016 classes (:data:`WHO_CLASSES`), each task its marginal
    #: (:func:`who_marginals`)
    label_structure: str = "independent"
    #: the grade head: ``multinomial`` (paper) one logit per grade; ``ordinal`` a cumulative-link
    #: (proportional-odds) head, :class:`OrdinalHead`: one score and ordered thresholds, so
    #: P(grade > k) rises with the score for every k. WHO grade is ordered, and the ordinal head
    #: learns one direction in feature space where the multinomial one learns three, the grade III
    #: one from its few, mixed patients
    grade_head: str = "multinomial"
    #: deep supervision of the decoder (nnU-Net): in training, this many coarser decoder levels
    #: (level 1 up, at most ``depth - 2``) get a 1x1x1 segmentation head of their own, scored by
    #: the segmentation loss against the reference reduced to their grid
    #: (:func:`glioma.model.losses.deep_supervision_loss`); the coarse levels get a direct
    #: gradient instead of one through every finer level. 0: off (paper). Inference never
    #: computes them.
    deep_supervision: int = 0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["drop_sequences"] = list(self.drop_sequences)  # plain YAML/JSON lists
        return out

    @classmethod
    def from_dict(cls, values: dict) -> NetworkConfig:
        """Build from a config's ``model:`` section; an unknown key is an error (a misspelt
        setting would otherwise fall back to its default without a word)."""
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"model: unknown key(s) {', '.join(unknown)}; known: {', '.join(cls.__dataclass_fields__)}")
        known = dict(values)
        if "drop_sequences" in known:
            known["drop_sequences"] = tuple(known["drop_sequences"] or ())
        return cls(**known)

    def dropped_channels(self) -> tuple[int, ...]:
        """Input channel indices of :attr:`drop_sequences` (in :data:`SEQUENCES` order)."""
        unknown = sorted(set(self.drop_sequences) - set(SEQUENCES))
        if unknown:
            raise ValueError(f"drop_sequences {unknown} not among {SEQUENCES}")
        if self.in_channels != len(SEQUENCES) and self.drop_sequences:
            raise ValueError("drop_sequences needs one input channel per sequence")
        return tuple(SEQUENCES.index(s) for s in self.drop_sequences)

    def filters(self, level: int) -> int:
        return self.base_filters * 2**level

    def pooled_features(self) -> int:
        """Length of the feature vector the dense heads take: every encoder and decoder level's
        global max (not with ``pooling: tumour_only``), and with ``pooling: tumour`` or
        ``tumour_only`` 3 statistics per contrast, the tumour's centre and its volume."""
        total = 0
        if self.pooling != "tumour_only":
            total += sum(self.filters(level) for level in range(self.depth)) + sum(
                self.filters(level) for level in range(self.depth - 1))
        if self.pooling in ("tumour", "tumour_only"):
            total += 3 * self.tumour_contrasts + 4
        return total


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm3d(channels)
    if kind == "instance":
        return nn.InstanceNorm3d(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    raise ValueError(f"unknown norm {kind!r} (batch, instance or group)")


def _activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.01, inplace=True)
    raise ValueError(f"unknown head_activation {kind!r} (relu or leaky_relu)")


def _global_max(h: torch.Tensor) -> torch.Tensor:
    """Global max pooling ``(B, C, D, H, W) -> (B, C)``. Adaptive max pooling keeps the argmax
    indices (one per channel) for backward; ``torch.amax``'s backward builds an int64 count
    tensor as large as the input (8 bytes per voxel and channel, the peak of a 1 mm step).
    Autocast is off here: CPU autocast would copy a bf16 input to fp32 first, and a maximum is
    exact in any precision."""
    with torch.autocast(device_type=h.device.type, enabled=False):
        return F.adaptive_max_pool3d(h, 1).flatten(1)


POOLINGS: tuple[str, ...] = ("global", "tumour", "tumour_only")
LABEL_STRUCTURES: tuple[str, ...] = ("independent", "codeletion_within_idh", "who_classes")
TUMOUR_GATES: tuple[str, ...] = ("predicted", "reference")

#: how far (in z-scored intensity units) the gated maximum and minimum push voxels outside the
#: predicted tumour: beyond any contrast a 1x1x1 convolution of normalised scans gives in practice
_GATE_MARGIN = 20.0


def tumour_statistics(contrasts: torch.Tensor, tumour: torch.Tensor) -> torch.Tensor:
    """Maximum, minimum and mean of every channel of ``contrasts`` ``(B, C, D, H, W)`` inside the
    soft tumour mask ``tumour`` ``(B, 1, D, H, W)`` (0..1), the tumour's centre of mass (the
    tumour-weighted mean voxel position along each axis, scaled to -1..1 over the grid) and the
    log tumour volume (voxels): ``(B, 3 C + 4)``. The maximum and minimum are gated (voxels are
    pushed away by ``(1 - tumour) * margin``), the mean and the centre are tumour-weighted; with an
    empty mask they fall back to the most tumour-like voxels (the centre to 0). The radiological
    signs that separate the classes (enhancement, necrosis, T2-FLAIR mismatch, calcification) are
    extremes or averages of contrasts within the tumour, which look like healthy anatomy (vessels,
    CSF) outside it: a global maximum cannot tell them apart from anatomy, these statistics can.
    Where the tumour lies is a sign of its own (oligodendrogliomas favour the frontal lobe); on
    the atlas grid a position is an anatomical one."""
    with torch.autocast(device_type=contrasts.device.type, enabled=False):
        c = contrasts.float().flatten(2)
        w = tumour.float().flatten(2)
        penalty = (1.0 - w) * _GATE_MARGIN
        high = F.adaptive_max_pool1d(c - penalty, 1).flatten(1)  # argmax kept, not a count tensor
        low = -F.adaptive_max_pool1d(-(c + penalty), 1).flatten(1)
        mass = w.sum(dim=2)
        mean = (c * w).sum(dim=2) / mass.clamp(min=1e-3)
        grid = tumour.float()[:, 0]
        centre = []
        for axis in (1, 2, 3):
            profile = grid.sum(dim=[a for a in (1, 2, 3) if a != axis])  # (B, size of the axis)
            position = torch.linspace(-1.0, 1.0, profile.shape[1], device=profile.device)
            centre.append((profile * position).sum(dim=1, keepdim=True) / mass.clamp(min=1e-3))
        return torch.cat([high, low, mean, *centre, torch.log1p(mass)], dim=1)


class OrdinalHead(nn.Module):
    """A cumulative-link (proportional-odds, McCullagh 1980) output over ``n_classes`` ordered
    classes: ``body`` maps the features to one score ``s`` per patient, and ``n_classes - 1``
    increasing thresholds ``t_k`` give P(class <= k) = sigmoid(t_k - s). ``forward`` returns the
    classes' log-probabilities ``(B, n_classes)``, which act as logits downstream (a softmax or
    cross-entropy of them gives the same probabilities), so masked losses, class weights and
    predictions work unchanged. The thresholds are ``cut`` plus cumulative softplus gaps (at
    least :attr:`MIN_GAP` apart); the middle classes' log-probabilities are computed as
    log sigmoid(t_k - s) + log sigmoid(s - t_(k-1)) + log(1 - exp(-(t_k - t_(k-1)))), finite and
    stable for any score."""

    MIN_GAP = 1e-4

    def __init__(self, body: nn.Module, n_classes: int):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"an ordinal head needs at least 2 classes, got {n_classes}")
        self.body = body
        self.n_classes = n_classes
        self.cut = nn.Parameter(torch.tensor([-1.0]))
        # softplus(1.8546) = 2: the thresholds start at -1, 1, 3, ...
        self.gaps = nn.Parameter(torch.full((n_classes - 2,), 1.8546))

    def thresholds(self) -> torch.Tensor:
        """The ``n_classes - 1`` increasing thresholds (at least float32, also under bf16)."""
        dtype = torch.promote_types(self.cut.dtype, torch.float32)
        cut = self.cut.to(dtype)
        gaps = F.softplus(self.gaps.to(dtype)) + self.MIN_GAP
        return torch.cat([cut, cut + torch.cumsum(gaps, dim=0)])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        score = self.body(features)[:, :1]  # (B, 1)
        t = self.thresholds()[None]  # (1, K - 1)
        score = score.to(torch.promote_types(score.dtype, t.dtype))
        first = F.logsigmoid(t[:, :1] - score)
        last = F.logsigmoid(score - t[:, -1:])
        if self.n_classes == 2:
            return torch.cat([first, last], dim=1)
        upper, lower = t[:, 1:], t[:, :-1]
        middle = (F.logsigmoid(upper - score) + F.logsigmoid(score - lower)
                  + torch.log(-torch.expm1(-(upper - lower))))
        return torch.cat([first, middle, last], dim=1)


GRADE_HEADS: tuple[str, ...] = ("multinomial", "ordinal")


def predicted_gate(seg_logits: torch.Tensor) -> torch.Tensor:
    """The tumour-pooling gate ``(B, 1, D, H, W)`` from segmentation logits ``(B, C, D, H, W)``:
    the predicted segmentation itself (tumour probability > 0.5), a hard mask like the reference
    one. A soft gate would let dark or bright voxels at the uncertain margin (CSF, background)
    win the gated minimum or maximum, and would differ from the reference masks the heads see in
    training with ``tumour_gate: reference``. A patient without any predicted tumour voxel keeps
    the soft probability map (its most tumour-like voxels)."""
    soft = F.softmax(seg_logits.float(), dim=1)[:, 1:].sum(dim=1, keepdim=True)
    hard = (soft > 0.5).float()
    empty = hard.flatten(1).amax(dim=1) == 0
    return torch.where(empty.view(-1, 1, 1, 1, 1), soft, hard)


def codeletion_within_idh(idh_logits: torch.Tensor, conditional_logits: torch.Tensor) -> torch.Tensor:
    """WHO-consistent 1p/19q log-probabilities ``(B, 2)`` (intact, co-deleted): a 1p/19q
    co-deletion defines an oligodendroglioma only in an IDH-mutant tumour, so P(co-deleted) =
    P(IDH mutant) x P(co-deleted | IDH mutant), the first factor from the IDH logits, the second
    from ``conditional_logits`` (the 1p/19q head). The IDH head, trained on every IDH label,
    then carries the IDH-wildtype half of the 1p/19q decision, and the 1p/19q head only has to
    separate the few co-deleted tumours from the other IDH-mutant ones. Log-probabilities work
    as logits downstream (a softmax or cross-entropy of them gives the same probabilities)."""
    idh, cond = idh_logits.float(), conditional_logits.float()
    log_codeleted = F.logsigmoid(idh[:, 1] - idh[:, 0]) + F.logsigmoid(cond[:, 1] - cond[:, 0])
    log_codeleted = log_codeleted.clamp(max=-1e-6)  # P(intact) stays > 0: a finite loss
    # log(1 - exp(x)), stable over the whole range (Maechler's log1mexp)
    log_intact = torch.where(log_codeleted > -math.log(2.0), torch.log(-torch.expm1(log_codeleted)),
                             torch.log1p(-torch.exp(log_codeleted)))
    return torch.stack([log_intact, log_codeleted], dim=1)


def who_marginals(class_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-task log-probabilities from logits over :data:`WHO_CLASSES` ``(B, 8)``: IDH
    (wildtype, mutant), 1p/19q (intact, co-deleted), grade (II, III, IV), each the log of the
    summed probability of the classes with that label. A softmax or cross-entropy of them gives
    the marginal probabilities, so an unknown label is still simply masked out of its task's
    loss, and the outputs are consistent by construction (no co-deleted IDH wildtype, no
    co-deleted grade IV)."""
    logp = F.log_softmax(class_logits.float(), dim=1)
    labels = torch.tensor(WHO_CLASSES, device=logp.device)
    out = {}
    for task, column, values in (("idh", 0, (0, 1)), ("codeletion", 1, (0, 1)), ("grade", 2, (2, 3, 4))):
        out[task] = torch.stack([
            torch.logsumexp(logp.masked_fill(labels[:, column] != v, float("-inf")), dim=1)
            for v in values], dim=1)
    return out


class PointwiseConv3d(nn.Conv3d):
    """A 1x1x1 convolution computed as a per-voxel linear map over the channel axis (same
    parameters and state-dict keys as ``nn.Conv3d(in_ch, out_ch, 1)``, same result up to
    rounding). On channels-last tensors the permutes are views, and the backward is two matrix
    products; oneDNN's CPU backward of a bf16 1x1x1 convolution allocates a work buffer of
    192 bytes per voxel instead (745 MB at the segmentation head of a 1 mm step, the largest
    single tensor at that step's peak)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x.permute(0, 2, 3, 4, 1), self.weight.flatten(1), self.bias)
        return y.permute(0, 4, 1, 2, 3)


#: on CPU under bf16 autocast, a convolution whose input has at least this many elements
#: computes its weight gradient over depth slabs of this many output rows (:class:`_SlabConv3d`)
SLAB_MIN_ELEMENTS = 2**23
SLAB_ROWS = 16


class _SlabConv3d(torch.autograd.Function):
    """Stride-1 3D convolution without bias whose weight gradient is summed over depth slabs.

    oneDNN's CPU backward of a bf16 convolution's weights allocates, per thread, a work buffer
    about as large as an fp32 copy of the whole input: 503 MB per thread for 32 channels on the
    1 mm grid, 1 GB of a 2-thread step's 2.5 GB peak, and it grows with the thread count. Over
    slabs of ``rows`` output rows it needs that much for one slab only. The input gradient is one
    ordinary call; the result is the same up to summation order."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, weight: torch.Tensor,
                padding: int, rows: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.rows = padding, rows
        return F.conv3d(x, weight, padding=padding)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None]:
        x, weight = ctx.saved_tensors
        pad, rows, kernel = ctx.padding, ctx.rows, weight.shape[2]
        ones, zeros = [1, 1, 1], [0, 0, 0]
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, ones, [pad] * 3, ones, False, zeros, 1, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            depth = x.shape[2]
            total = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
            for start in range(0, grad.shape[2], rows):
                stop = min(start + rows, grad.shape[2])
                lo, hi = start - pad, stop - pad + kernel - 1  # the input rows these rows read
                part = x[:, :, max(lo, 0):min(hi, depth)]
                if lo < 0 or hi > depth:  # zero padding in depth, for this slab only
                    part = F.pad(part, (0, 0, 0, 0, max(-lo, 0), max(hi - depth, 0)))
                total += torch.ops.aten.convolution_backward(
                    grad[:, :, start:stop], part, weight, None, ones, [0, pad, pad], ones, False, zeros,
                    1, [False, True, False])[1]
            grad_w = total.to(weight.dtype)
        return grad_x, grad_w, None, None


def conv3d(x: torch.Tensor, weight: torch.Tensor, padding: int,
           min_elements: int = SLAB_MIN_ELEMENTS) -> torch.Tensor:
    """``F.conv3d`` with stride 1 and no bias; on CPU under bf16 autocast, for an input of at
    least ``min_elements``, the weight gradient is computed over depth slabs (:class:`_SlabConv3d`)."""
    if (x.device.type == "cpu" and torch.is_grad_enabled() and x.numel() >= min_elements
            and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16):
        with torch.autocast(device_type="cpu", enabled=False):
            return _SlabConv3d.apply(x.to(torch.bfloat16), weight.to(torch.bfloat16), padding, SLAB_ROWS)
    return F.conv3d(x, weight, padding=padding)


class SameConv3d(nn.Conv3d):
    """``nn.Conv3d(in_ch, out_ch, 3, padding=1, bias=False)`` through :func:`conv3d` (same
    parameters and state-dict keys)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(in_ch, out_ch, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv3d(x, self.weight, self.padding[0])


class SubpixelConvTranspose3d(nn.ConvTranspose3d):
    """``nn.ConvTranspose3d(in_ch, out_ch, kernel, stride, padding)`` (same parameters and
    state-dict keys, same result up to rounding) computed on CPU as a sub-pixel convolution
    (Shi et al. 2016): one ordinary convolution of the input with ``stride^3`` kernels of
    ``kernel / stride`` voxels each (the transposed kernel's phases, flipped), whose channels are
    then interleaved onto the ``stride``-times finer grid. Output voxel ``o`` of phase
    ``r = (o + padding) mod stride`` only ever sums ``kernel / stride`` input voxels per axis
    with the kernel taps ``r, r + stride, ...``; the interleaving is a reshape. oneDNN's CPU
    transposed convolution with the paper's 9^3 kernel at stride 3 is 3.5x slower than this
    (forward and backward of the demo's first upsampling: 32 vs 9 ms a step in bf16; about a
    tenth of the whole step). Needs ``kernel % stride == 0``; on other devices, or with a
    dilation or groups, it is the plain transposed convolution."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, padding: int = 0):
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=padding)
        if kernel % stride:
            raise ValueError(f"sub-pixel transposed convolution needs kernel % stride == 0, got {kernel}, {stride}")

    def forward(self, x: torch.Tensor, output_size: Sequence[int] | None = None) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(x, output_size=output_size)
        s, k, p = self.stride[0], self.kernel_size[0], self.padding[0]
        taps = k // s
        size = [(n - 1) * s - 2 * p + k for n in x.shape[2:]]
        if output_size is not None:
            wanted = [int(v) for v in list(output_size)[-3:]]
            for n, want, have in zip(x.shape[2:], wanted, size, strict=True):
                if not have <= want < have + s:
                    raise ValueError(f"requested an output size of {tuple(wanted)}, but valid sizes "
                                     f"are {tuple(size)} plus less than {s} (for an input of {n})")
            size = wanted
        c_in, c_out = self.in_channels, self.out_channels
        w = self.weight.reshape(c_in, c_out, taps, s, taps, s, taps, s).permute(1, 3, 5, 7, 0, 2, 4, 6)
        w = w.flip(5, 6, 7).reshape(c_out * s**3, c_in, taps, taps, taps)
        # the full convolution covers the fine grid up to s * (n + taps - 1); an output padding
        # beyond it reads one more (zero) input voxel on the far side
        extra = [max(0, -(-(p + want - s * (n + taps - 1)) // s)) for n, want in zip(x.shape[2:], size, strict=True)]
        pad = []
        for more in reversed(extra):
            pad += [taps - 1, taps - 1 + more]
        z = F.conv3d(F.pad(x, pad), w if torch.is_autocast_enabled("cpu") else w.to(x.dtype))
        b, _, d, h, wd = z.shape
        y = z.reshape(b, c_out, s, s, s, d, h, wd).permute(0, 1, 5, 2, 6, 3, 7, 4)
        y = y.reshape(b, c_out, s * d, s * h, s * wd)
        y = y[:, :, p:p + size[0], p:p + size[1], p:p + size[2]]
        return y + self.bias.to(y.dtype).view(1, -1, 1, 1, 1)


class ConvUnit(nn.Sequential):
    """3x3x3 convolution, normalisation, ReLU."""

    def __init__(self, in_ch: int, out_ch: int, norm: str):
        super().__init__(
            SameConv3d(in_ch, out_ch),
            _norm(norm, out_ch),
            nn.ReLU(inplace=True),
        )


class ConvBlock(nn.Module):
    """Two :class:`ConvUnit`. With ``checkpoint_units`` each unit is recomputed in backward
    (nested inside the level's checkpoint), so at most one unit's activations are alive."""

    def __init__(self, in_ch: int, out_ch: int, norm: str):
        super().__init__()
        self.units = nn.ModuleList([ConvUnit(in_ch, out_ch, norm), ConvUnit(out_ch, out_ch, norm)])
        self.checkpoint_units = False

    def _first_split(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The first unit on ``cat([x, skip])`` without building the concatenation: the
        convolution is linear in its input channels, so it is the sum of two convolutions with
        the two halves of the same weight. Same parameters, same result (up to rounding); no
        double-width tensor, and convolution backward returns two half-width gradients."""
        conv, norm, act = self.units[0]
        weight = conv.weight
        split = x.shape[1]
        h = conv3d(x, weight[:, :split], conv.padding[0])
        h = h + conv3d(skip, weight[:, split:], conv.padding[0])
        return act(norm(h))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None, up: nn.Module | None = None,
                tail=None) -> torch.Tensor:  # noqa: ANN001 - tail: a callable on the block's output
        """``skip``: decoder blocks take the upsampled input and the skip connection apart; with
        ``checkpoint_units`` they are never concatenated (see :meth:`_first_split`). ``up``: the
        upsampling applied to ``x`` first (output size of ``skip``); ``tail``: applied to the
        block's output, whose result is returned instead.

        With ``checkpoint_units`` the upsampling shares the first unit's checkpoint and ``tail``
        the last unit's, so neither the full-size upsampled map nor the block's output is stored
        for backward: the segment keeps only its small inputs and ``tail``'s result (at the
        full-resolution decoder level: 2 segmentation channels instead of two 32-channel maps)."""
        save = self.checkpoint_units and self.training and torch.is_grad_enabled()
        units = list(self.units)
        if save and skip is not None:
            def first(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
                return self._first_split(up(a, output_size=b.shape[2:]) if up is not None else a, b)

            x = checkpoint(first, x, skip, use_reentrant=False)
            units = units[1:]
        elif skip is not None:
            x = up(x, output_size=skip.shape[2:]) if up is not None else x
            x = torch.cat([x, skip], dim=1)
        elif up is not None:
            raise ValueError("up needs the skip connection (its output size)")
        for index, unit in enumerate(units):
            if tail is not None and index == len(units) - 1:
                def last(a: torch.Tensor, unit: nn.Module = unit):  # noqa: ANN202 - tail's result
                    return tail(unit(a))

                x = checkpoint(last, x, use_reentrant=False) if save else last(x)
            else:
                x = checkpoint(unit, x, use_reentrant=False) if save else unit(x)
        return x


class PSNet(nn.Module):
    """Multi-task 3D CNN: ``forward(x)`` returns a dict of logits.

    ``x``: ``(batch, in_channels, D, H, W)``. Output keys: one per task in :data:`TASKS`
    (``(batch, n_classes)``; log-probabilities, which act as logits, with a ``label_structure``
    other than ``independent``) and ``"seg"`` (``(batch, seg_classes, D, H, W)``). Any input size
    works as long as the deepest level keeps at least one voxel.
    """

    def __init__(self, config: NetworkConfig | None = None):
        super().__init__()
        self.config = config = config or NetworkConfig()
        if config.depth < 2:
            raise ValueError("depth must be at least 2")
        if config.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {config.pooling!r} (one of {POOLINGS})")
        if config.tumour_gate not in TUMOUR_GATES:
            raise ValueError(f"unknown tumour_gate {config.tumour_gate!r} (one of {TUMOUR_GATES})")
        if config.label_structure not in LABEL_STRUCTURES:
            raise ValueError(f"unknown label_structure {config.label_structure!r} (one of {LABEL_STRUCTURES})")
        if config.grade_head not in GRADE_HEADS:
            raise ValueError(f"unknown grade_head {config.grade_head!r} (one of {GRADE_HEADS})")
        if config.grade_head == "ordinal" and config.label_structure == "who_classes":
            raise ValueError("grade_head ordinal needs a grade head of its own; label_structure "
                             "who_classes derives grade from the eight WHO classes")
        self._dropped = config.dropped_channels()
        f = config.filters
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(config.depth):
            in_ch = config.in_channels if level == 0 else f(level)
            self.encoders.append(ConvBlock(in_ch, f(level), config.norm))
        for level in range(1, config.depth):
            if level == 1:
                k, s = config.first_kernel, config.first_stride
                self.downs.append(
                    nn.Conv3d(f(0), f(1), k, stride=s, padding=(k - s) // 2)
                )
                self.ups.append(SubpixelConvTranspose3d(f(1), f(0), k, s, (k - s) // 2) if k % s == 0
                                else nn.ConvTranspose3d(f(1), f(0), k, stride=s, padding=(k - s) // 2))
            else:
                self.downs.append(
                    nn.Sequential(nn.MaxPool3d(2), PointwiseConv3d(f(level - 1), f(level)))
                )
                self.ups.append(nn.ConvTranspose3d(f(level), f(level - 1), 2, stride=2))
            self.decoders.append(ConvBlock(2 * f(level - 1), f(level - 1), config.norm))
        if config.tumour_kernel < 1 or config.tumour_kernel % 2 == 0:
            raise ValueError(f"tumour_kernel must be odd and positive, got {config.tumour_kernel}")
        self.contrasts: nn.Module | None = None
        if config.pooling in ("tumour", "tumour_only"):
            k = config.tumour_kernel
            self.contrasts = (PointwiseConv3d(config.in_channels, config.tumour_contrasts) if k == 1
                              else nn.Conv3d(config.in_channels, config.tumour_contrasts, k, padding=k // 2))
        pooled = config.pooled_features()
        self.dropout = nn.Dropout(config.dropout)
        outputs = ({"who": len(WHO_CLASSES)} if config.label_structure == "who_classes"
                   else {task: config.n_classes[task] for task in TASKS})
        if config.dense_units < 0:
            raise ValueError(f"dense_units must be >= 0, got {config.dense_units}")

        def head(n: int) -> nn.Sequential:
            if config.dense_units:
                return nn.Sequential(nn.Linear(pooled, config.dense_units),
                                     _activation(config.head_activation),
                                     nn.Linear(config.dense_units, n))
            return nn.Sequential(nn.Linear(pooled, n))

        self.heads = nn.ModuleDict(
            {name: OrdinalHead(head(1), n) if name == "grade" and config.grade_head == "ordinal" else head(n)
             for name, n in outputs.items()}
        )
        self.seg_head = PointwiseConv3d(f(0), config.seg_classes)
        if not 0.0 < config.seg_prior < 1.0:
            raise ValueError(f"seg_prior must be in (0, 1), got {config.seg_prior}")
        if not 0 <= config.deep_supervision <= config.depth - 2:
            raise ValueError(f"deep_supervision must be in [0, depth - 2 = {config.depth - 2}], "
                             f"got {config.deep_supervision}")
        # aux_heads[i]: decoder level i + 1 (the output of decoders[i + 1], filters f(i + 1))
        self.aux_heads = nn.ModuleList(
            [PointwiseConv3d(f(level), config.seg_classes) for level in range(1, config.deep_supervision + 1)])
        with torch.no_grad():
            for head in [self.seg_head, *self.aux_heads]:
                head.bias.zero_()
                head.bias[1:] = math.log(config.seg_prior / (1.0 - config.seg_prior))
        if config.activation_checkpointing:
            for block in [*self.encoders, *self.decoders]:
                block.checkpoint_units = True
        if config.channels_last:
            self.to(memory_format=torch.channels_last_3d)

    # Activation checkpointing works on whole segments: an encoder level (downsampling + block
    # + global pooling) or a decoder level (upsampling + concatenation + block + pooling, and the
    # segmentation head at the last level). A segment keeps only its inputs, which stay alive
    # anyway as skips, so no full-resolution activation is stored between forward and backward.
    def _encode(self, level: int, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if level > 0:
            h = self.downs[level - 1](h)
        h = self.encoders[level](h)
        return h, self._level_max(h)

    def _level_max(self, h: torch.Tensor) -> torch.Tensor:
        """The level's global max, or ``(B, 0)`` with ``pooling: tumour_only`` (the heads never
        see it: not computing it saves a pass over every level's activations)."""
        if self.config.pooling == "tumour_only":
            return h.new_zeros(h.shape[0], 0)
        return _global_max(h)

    def _seg_tail(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.seg_head(h), self._level_max(h)

    def _decode(self, level: int, h: torch.Tensor, skip: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Upsampling, the level's block, its global max and, at level 1, the segmentation
        head; returns (output, pooled)."""
        if level == 1:
            return self.decoders[0](h, skip, up=self.ups[0], tail=self._seg_tail)
        h = self.decoders[level - 1](h, skip, up=self.ups[level - 1])
        return h, self._level_max(h)

    def _segment(self, fn, *args):  # noqa: ANN001, ANN202 - thin wrapper
        if self.config.activation_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def forward(self, x: torch.Tensor, reference: torch.Tensor | None = None,
                has_reference: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``reference`` ``(B, 1, D, H, W)`` and ``has_reference`` ``(B,)``: the reference tumour
        masks of the batch, used as the tumour-pooling gate in training with
        ``tumour_gate: reference`` (patients without one keep the predicted gate); ignored
        otherwise."""
        if x.ndim != 5 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"expected input (batch, {self.config.in_channels}, D, H, W), got {tuple(x.shape)}"
            )
        if self._dropped:  # zero gradient reaches a dropped channel: saliency there is 0 too
            keep = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
            keep[list(self._dropped)] = 0
            x = x * keep.view(1, -1, 1, 1, 1)
        skips: list[torch.Tensor] = []
        pooled: list[torch.Tensor] = []
        h = x = x.contiguous(memory_format=torch.channels_last_3d) if self.config.channels_last else x
        for level in range(self.config.depth):
            h, p = self._segment(self._encode, level, h)
            skips.append(h)
            pooled.append(p)
        aux: list[torch.Tensor] = []
        supervise = self.training and len(self.aux_heads) > 0
        for level in range(self.config.depth - 1, 0, -1):
            h, p = self._segment(self._decode, level, h, skips[level - 1])
            pooled.append(p)
            # h: the output of decoder level ``level - 1``
            if supervise and 1 <= level - 1 <= len(self.aux_heads):
                aux.insert(0, self.aux_heads[level - 2](h))
        if self.config.pooling == "tumour_only":
            pooled = []
        if self.contrasts is not None:
            # the gate is the predicted tumour, detached: the classification losses shape the
            # contrasts, not the segmentation
            tumour = predicted_gate(h.detach())
            if (self.training and self.config.tumour_gate == "reference" and reference is not None
                    and has_reference is not None):
                known = has_reference.bool().view(-1, 1, 1, 1, 1)
                tumour = torch.where(known, reference.float().view_as(tumour), tumour)
            pooled.append(tumour_statistics(self.contrasts(x), tumour))
        features = self.dropout(torch.cat(pooled, dim=1))
        out = {name: head(features) for name, head in self.heads.items()}
        if self.config.label_structure == "who_classes":
            out = who_marginals(out.pop("who"))
        elif self.config.label_structure == "codeletion_within_idh":
            out["codeletion"] = codeletion_within_idh(out["idh"], out["codeletion"])
        out["seg"] = h
        if supervise:
            out["seg_aux"] = aux  # type: ignore[assignment] # finest first: decoder levels 1, 2, ...
        return out


def predict_probabilities(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Softmax over classes for every head (segmentation: over the channel axis)."""
    return {key: F.softmax(value.float(), dim=1) for key, value in outputs.items()}
