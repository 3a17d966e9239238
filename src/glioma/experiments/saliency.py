"""Interpretability (Appendix J): gradient saliency per task and feature maps of chosen filters.

Saliency is the absolute gradient of a task's softmax score for its predicted (or given) class
with respect to the four input sequences (Captum ``Saliency``; ``integrated_gradients`` is
available too), one map per sequence, in atlas space. Feature maps are the activations of chosen
filters of one network layer (Captum ``LayerActivation``), e.g. ``encoders.0`` (full resolution).

Outputs of :func:`write_saliency` (``out_dir`` = ``results/experiments/saliency/<cohort>``)::

    saliency.csv             cohort, subject, grade (truth), task, target, target_label, score,
                             tumour_mass_fraction, tumour_volume_fraction, tumour_enrichment,
                             share_t1, share_t1c, share_t2, share_flair
    saliency.png / .pdf      per patient and task: the four sequences with the saliency overlaid
    feature_maps.png / .pdf  per patient: the chosen filters' activations at the tumour slice
    <subject>/saliency_<task>.nii.gz   4-D (x, y, z, sequence) absolute saliency, atlas space

``tumour_enrichment`` = share of the saliency mass (summed over sequences) inside the reference
(else predicted) tumour divided by the tumour's share of the brain volume: 1 is no
concentration; the synthetic tests use the same function with the generator's enhancing rim.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch
from monai.transforms import ResizeWithPadOrCrop

from glioma.data.dataset import LABEL_MAPS, load_patient
from glioma.errors import InputError
from glioma.io.atomic import atomic_path, write_table
from glioma.model.network import TASKS, PSNet
from glioma.schema import PREPROCESS_FILES, SEQUENCES

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("saliency", "integrated_gradients")
SALIENCY_COLUMNS: tuple[str, ...] = (
    "cohort", "subject", "grade", "task", "target", "target_label", "score",
    "tumour_mass_fraction", "tumour_volume_fraction", "tumour_enrichment",
    *(f"share_{s}" for s in SEQUENCES),
)


class _TaskScore(torch.nn.Module):
    """The softmax scores of one task head, as a plain function of the input (for Captum)."""

    def __init__(self, net: PSNet, task: str):
        super().__init__()
        self.net = net
        self.task = task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x)[self.task].float(), dim=1)


def saliency_map(net: PSNet, image: np.ndarray, task: str, target: int | None = None,
                 method: str = "saliency", steps: int = 16) -> tuple[np.ndarray, int, float]:
    """Absolute attribution ``(sequences, D, H, W)`` of ``task``'s score for class ``target``
    (default: the predicted class); returns (map, target, score of target)."""
    from captum.attr import IntegratedGradients, Saliency

    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r} ({', '.join(METHODS)})")
    net.eval()
    fn = _TaskScore(net, task)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    with torch.no_grad():
        probs = fn(x)[0]
    target = int(probs.argmax()) if target is None else int(target)
    x.requires_grad_(True)
    if method == "saliency":
        attr = Saliency(fn).attribute(x, target=target, abs=True)
    else:
        attr = IntegratedGradients(fn).attribute(x, baselines=torch.zeros_like(x), target=target,
                                                 n_steps=steps).abs()
    return attr[0].detach().numpy().astype(np.float32), target, float(probs[target])


def mass_enrichment(saliency: np.ndarray, region: np.ndarray, within: np.ndarray | None = None
                    ) -> tuple[float, float, float]:
    """(share of saliency mass in ``region``, ``region``'s share of the volume, their ratio),
    restricted to ``within`` (e.g. the brain). ``saliency``: ``(D, H, W)`` or per sequence
    ``(C, D, H, W)`` (summed over sequences)."""
    s = saliency.sum(axis=0) if saliency.ndim == 4 else saliency
    within = np.ones(s.shape, bool) if within is None else within.astype(bool)
    region = region.astype(bool) & within
    total = float(s[within].sum())
    n = int(within.sum())
    if total <= 0 or n == 0 or not region.any():
        return float("nan"), float("nan"), float("nan")
    mass = float(s[region].sum()) / total
    volume = float(region.sum()) / n
    return mass, volume, mass / volume


def feature_maps(net: PSNet, image: np.ndarray, layer: str, filters: Sequence[int]) -> np.ndarray:
    """Activations ``(len(filters), d, h, w)`` of ``filters`` of the module named ``layer``
    (a name of ``net.named_modules()``, e.g. ``encoders.0``)."""
    from captum.attr import LayerActivation

    modules = dict(net.named_modules())
    if layer not in modules:
        raise ValueError(f"no layer {layer!r} in the network (e.g. {list(modules)[1:6]})")
    net.eval()
    fn = _TaskScore(net, TASKS[0])
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    with torch.no_grad():
        act = LayerActivation(fn, modules[layer]).attribute(x)
    act = act[0]
    bad = [f for f in filters if not 0 <= int(f) < act.shape[0]]
    if bad:
        raise ValueError(f"layer {layer} has {act.shape[0]} filters; cannot show {bad}")
    return act[[int(f) for f in filters]].numpy()


def choose_patients(predictions: pd.DataFrame, explicit: Sequence[str] = (), n_lgg: int = 1,
                    n_hgg: int = 1) -> list[str]:
    """``explicit`` if given, else the most confidently correct LGG (grade II/III by truth,
    highest ``score_grade_2 + score_grade_3``) and HGG (highest ``score_grade_4``) patients."""
    if explicit:
        missing = sorted(set(explicit) - set(predictions["subject"]))
        if missing:
            raise InputError(f"saliency patients {missing} are not among the predicted test patients")
        return list(explicit)
    grade = pd.to_numeric(predictions["grade"], errors="coerce")
    lgg_score = predictions["score_grade_2"].astype(float) + predictions["score_grade_3"].astype(float)
    chosen = list(predictions.loc[grade.isin([2, 3])].assign(s=lgg_score).nlargest(n_lgg, "s")["subject"])
    hgg = predictions.loc[grade == 4].assign(s=predictions["score_grade_4"].astype(float))
    chosen += list(hgg.nlargest(n_hgg, "s")["subject"])
    if not chosen:
        raise InputError("no test patient with a known grade to show saliency for")
    return chosen


def _fit(image: np.ndarray, shape: Sequence[int] | None) -> np.ndarray:
    if shape is None:
        return image
    return np.asarray(ResizeWithPadOrCrop([int(s) for s in shape])(image), dtype=np.float32)


def _tumour_slice(mask: np.ndarray | None, shape: Sequence[int]) -> int:
    if mask is not None and mask.any():
        return int(np.argmax(mask.reshape(-1, mask.shape[2]).sum(axis=0)))
    return int(shape[2]) // 2


def saliency_figure(cases: list[dict]):  # noqa: ANN201
    """Rows: patient x task; columns: the four sequences with that sequence's saliency overlaid
    (hot colour map, above the 90th percentile of the brain's saliency)."""
    from glioma.plots.style import DOUBLE_COLUMN, RC, plt, subplots

    rows = [(c, task) for c in cases for task in c["saliency"]]
    fig, axes = subplots(max(len(rows), 1), len(SEQUENCES), width=DOUBLE_COLUMN,
                         height=1.5 * max(len(rows), 1), squeeze=False)
    with plt.rc_context(RC):
        for ax in axes.ravel():
            ax.axis("off")
        for r, (case, task) in enumerate(rows):
            sal = case["saliency"][task]["map"]
            z = case["slice"]
            total = sal.sum(axis=0)
            thr = np.percentile(total[case["brain"]], 90) if case["brain"].any() else 0
            for c, seq in enumerate(SEQUENCES):
                ax = axes[r, c]
                img = np.rot90(case["image"][c, :, :, z])
                ax.imshow(img, cmap="gray")
                ch = np.rot90(sal[c, :, :, z])
                ax.imshow(np.ma.masked_less_equal(ch, max(thr / len(SEQUENCES), 1e-12)), cmap="hot",
                          alpha=0.6)
                if case["tumour"] is not None:
                    ax.contour(np.rot90(case["tumour"][:, :, z]).astype(float), levels=[0.5],
                               colors="cyan", linewidths=0.5)
                info = case["saliency"][task]
                title = seq if c else f"{case['subject']} {task}={info['label']} ({info['score']:.2f}): {seq}"
                ax.set_title(title, fontsize=5.5)
        fig.tight_layout()
    return fig


def feature_figure(cases: list[dict], layer: str, filters: Sequence[int]):  # noqa: ANN201
    """Rows: patients; columns: T1c then the chosen filters' activations at the tumour slice."""
    from glioma.plots.style import DOUBLE_COLUMN, RC, plt, subplots

    ncols = 1 + len(filters)
    fig, axes = subplots(max(len(cases), 1), ncols, width=DOUBLE_COLUMN, height=1.5 * max(len(cases), 1),
                         squeeze=False)
    with plt.rc_context(RC):
        for ax in axes.ravel():
            ax.axis("off")
        for r, case in enumerate(cases):
            z = case["slice"]
            axes[r, 0].imshow(np.rot90(case["image"][SEQUENCES.index("t1c"), :, :, z]), cmap="gray")
            axes[r, 0].set_title(f"{case['subject']} T1c", fontsize=6)
            fmap = case["features"]
            zf = min(fmap.shape[3] - 1, int(round(z * fmap.shape[3] / case["image"].shape[3])))
            for c, f in enumerate(filters):
                axes[r, c + 1].imshow(np.rot90(fmap[c, :, :, zf]), cmap="viridis")
                axes[r, c + 1].set_title(f"{layer} filter {f}", fontsize=6)
        fig.tight_layout()
    return fig


def _save_map(sal: np.ndarray, affine: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        nib.save(nib.Nifti1Image(np.moveaxis(sal, 0, -1).astype(np.float32), affine), str(tmp))


def patient_saliency(net: PSNet, folder: str | Path, subject: str, *, cohort: str = "",
                     tasks: Sequence[str] = TASKS, method: str = "saliency",
                     input_shape: Sequence[int] | None = None,
                     tumour: np.ndarray | None = None,
                     targets: dict[str, int] | None = None) -> dict:
    """Saliency of every task for one preprocessed patient (for the class index in ``targets``,
    default the predicted class); ``tumour`` defaults to its reference segmentation. Returns a
    case dict (image, brain, tumour, slice, saliency)."""
    record = load_patient(folder, subject, cohort=cohort)
    image = record["image"]
    original = image.shape[1:]
    fitted = _fit(image, input_shape)
    brain_path = Path(folder) / PREPROCESS_FILES["brain_mask"]
    brain = (np.asarray(nib.load(str(brain_path)).dataobj) > 0) if brain_path.is_file() else np.abs(image).sum(0) > 0
    if tumour is None and record["has_seg"]:
        tumour = record["seg"][0] > 0
    case = {"subject": subject, "cohort": cohort, "image": image, "brain": brain, "tumour": tumour,
            "slice": _tumour_slice(tumour, original), "affine": record["affine"], "saliency": {}}
    for task in tasks:
        sal, target, score = saliency_map(net, fitted, task, (targets or {}).get(task), method=method)
        if input_shape is not None:
            sal = _fit(sal, original)
        label = [k for k, v in LABEL_MAPS[task].items() if v == target][0]
        case["saliency"][task] = {"map": sal, "target": target, "label": label, "score": score}
    return case


def case_rows(case: dict, grade: str = "") -> list[dict]:
    rows = []
    for task, info in case["saliency"].items():
        sal = info["map"]
        if case["tumour"] is not None:
            mass, volume, ratio = mass_enrichment(sal, case["tumour"], case["brain"])
        else:
            mass = volume = ratio = float("nan")
        per_seq = sal[:, case["brain"]].sum(axis=1)
        shares = per_seq / per_seq.sum() if per_seq.sum() > 0 else np.full(len(SEQUENCES), np.nan)
        rows.append({"cohort": case["cohort"], "subject": case["subject"], "grade": grade,
                     "task": task, "target": info["target"], "target_label": info["label"],
                     "score": info["score"], "tumour_mass_fraction": mass,
                     "tumour_volume_fraction": volume, "tumour_enrichment": ratio,
                     **{f"share_{s}": float(v) for s, v in zip(SEQUENCES, shares, strict=True)}})
    return rows


def write_saliency(
    model_dir: str | Path,
    predictions_csv: str | Path,
    preprocess_root: str | Path,
    cohort: str,
    out_dir: str | Path,
    *,
    patients: Sequence[str] = (),
    tasks: Sequence[str] = TASKS,
    method: str = "saliency",
    layer: str = "encoders.0",
    filters: Sequence[int] = (0, 1, 2, 3),
    threads: int | None = None,
) -> pd.DataFrame:
    """Saliency and feature maps of the chosen patients (see the module docstring)."""
    from glioma.data.splits import read_table
    from glioma.model.infer import Predictor
    from glioma.plots.style import save_png_pdf

    out_dir = Path(out_dir)
    predictor = Predictor(model_dir, threads=threads)
    predictions = read_table(predictions_csv)
    chosen = choose_patients(predictions, patients)
    grades = dict(zip(predictions["subject"], predictions["grade"], strict=True))
    cases, rows = [], []
    for subject in chosen:
        folder = Path(preprocess_root) / cohort / subject
        try:
            case = patient_saliency(predictor.net, folder, subject, cohort=cohort, tasks=tasks,
                                    method=method, input_shape=predictor.input_shape)
            case["features"] = feature_maps(predictor.net, _fit(case["image"], predictor.input_shape),
                                            layer, filters)
        except InputError as err:
            log.warning("saliency: %s/%s skipped: %s", cohort, subject, err)
            continue
        for task, info in case["saliency"].items():
            _save_map(info["map"], case["affine"], out_dir / subject / f"saliency_{task}.nii.gz")
        rows += case_rows(case, grades.get(subject, ""))
        cases.append(case)
    table = pd.DataFrame(rows, columns=list(SALIENCY_COLUMNS))
    write_table(out_dir / "saliency.csv", table, float_format="%.5f")
    save_png_pdf(saliency_figure(cases), out_dir / "saliency.png")
    save_png_pdf(feature_figure(cases, layer, filters), out_dir / "feature_maps.png")
    log.info("saliency of %d patients:\n%s", len(cases), table.to_string(index=False))
    return table
