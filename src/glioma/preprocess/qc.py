"""Quality control: metrics, the per-patient QC figure, and the cohort QC table and overview."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glioma.io.atomic import save_figure, write_table
from glioma.schema import INCLUSION_SUMMARY_COLUMNS, SEQUENCES

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: columns of results/preprocess/<cohort>/qc.tsv (metrics are empty where not computed)
QC_COLUMNS: tuple[str, ...] = (
    "cohort",
    "subject",
    "status",
    "reason",
    "skull_strip",
    "brain_volume_ml",
    "atlas_correlation",
    "atlas_mask_dice",
    "coreg_mi_gain_t1",
    "coreg_mi_gain_t2",
    "coreg_mi_gain_flair",
    "seg_voxels",
    "seg_in_mask_fraction",
    "seconds",
)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two binary arrays (1.0 when both are empty)."""
    a = a > 0
    b = b > 0
    total = int(a.sum() + b.sum())
    return 1.0 if total == 0 else float(2 * np.logical_and(a, b).sum() / total)


def correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` inside ``mask`` (nan with fewer than 10 voxels)."""
    inside = mask > 0
    if inside.sum() < 10:
        return float("nan")
    x = a[inside].astype(np.float64)
    y = b[inside].astype(np.float64)
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _middle(mask: np.ndarray) -> tuple[int, int, int]:
    idx = np.argwhere(mask > 0)
    if len(idx) == 0:
        return tuple(s // 2 for s in mask.shape)  # type: ignore[return-value]
    return tuple(int(v) for v in (idx.min(axis=0) + idx.max(axis=0)) // 2)  # type: ignore[return-value]


def qc_figure(
    volumes: Mapping[str, np.ndarray],
    brain_mask: np.ndarray,
    tumor: np.ndarray | None,
    target: str | Path,
    *,
    title: str = "",
) -> Path:
    """Middle axial, coronal and sagittal slices of the normalized sequences with the brain mask
    (green) and the tumour (red) outlined. Arrays are in ANTs index order (x, y, z) of an LPI grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centre_source = tumor if tumor is not None and np.any(tumor) else brain_mask
    cx, cy, cz = _middle(centre_source)
    views = {
        "axial": lambda a: np.rot90(a[:, :, cz]),
        "coronal": lambda a: np.rot90(a[:, cy, :]),
        "sagittal": lambda a: np.rot90(a[cx, :, :]),
    }
    seqs = [s for s in SEQUENCES if s in volumes]
    fig, axes = plt.subplots(len(views), len(seqs), figsize=(2.4 * len(seqs), 2.4 * len(views)), squeeze=False)
    for col, seq in enumerate(seqs):
        for row, (view, cut) in enumerate(views.items()):
            ax = axes[row][col]
            # LPI arrays: flip x so that the figure's left is the patient's right (radiological)
            ax.imshow(cut(volumes[seq]), cmap="gray", vmin=-2.5, vmax=3.5, interpolation="nearest")
            mask_cut = cut(brain_mask)
            if np.any(mask_cut) and not np.all(mask_cut):
                ax.contour(mask_cut, levels=[0.5], colors="lime", linewidths=0.6)
            if tumor is not None:
                tumor_cut = cut(tumor)
                if np.any(tumor_cut):
                    ax.contour(tumor_cut, levels=[0.5], colors="red", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(seq)
            if col == 0:
                ax.set_ylabel(view)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = save_figure(fig, target, dpi=90)
    plt.close(fig)
    return path


def qc_row(record: Mapping[str, Any], cohort: str = "") -> dict[str, Any]:
    """One qc.tsv row from a qc.json record."""
    metrics = record.get("metrics", {}) or {}
    row: dict[str, Any] = {c: "" for c in QC_COLUMNS}
    row.update(
        cohort=cohort or record.get("cohort", ""),
        subject=record.get("subject", ""),
        status=record.get("status", ""),
        reason=record.get("reason", "") or "",
        skull_strip=record.get("skull_strip", ""),
        seconds=record.get("seconds", ""),
    )
    for key in QC_COLUMNS:
        if key in metrics and metrics[key] is not None:
            row[key] = metrics[key]
    return row


def aggregate_qc(
    qc_files: Sequence[str | Path], table: str | Path, figure: str | Path, *, cohort: str = ""
) -> Path:
    """Collect per-patient qc.json files into ``table`` (TSV, QC_COLUMNS) and draw an overview:
    brain volume, atlas correlation and mask Dice per patient, excluded patients in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from tqdm import tqdm

    rows = []
    for path in tqdm(list(qc_files), desc=f"preprocess QC {cohort}", disable=None):
        path = Path(path)
        if path.is_dir():
            path = path / "qc.json"
        rows.append(qc_row(json.loads(path.read_text()), cohort=cohort))
    frame = pd.DataFrame(rows, columns=list(QC_COLUMNS))
    write_table(table, frame)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    ok = frame["status"] == "ok"
    for ax, (col, label) in zip(
        axes,
        [("brain_volume_ml", "brain volume (ml)"), ("atlas_correlation", "correlation with atlas"),
         ("atlas_mask_dice", "brain mask Dice vs atlas")],
        strict=True,
    ):
        values = pd.to_numeric(frame[col], errors="coerce")
        x = np.arange(len(frame))
        ax.scatter(x[ok], values[ok], s=14, color="tab:blue", label="included")
        ax.scatter(x[~ok], values[~ok], s=18, color="tab:red", marker="x", label="excluded")
        ax.set_xlabel("patient")
        ax.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"preprocessing QC {cohort}: {int(ok.sum())} of {len(frame)} patients included", fontsize=10)
    fig.tight_layout()
    save_figure(fig, figure, dpi=90)
    plt.close(fig)
    logger.info("QC of %d patients (%d excluded) -> %s", len(frame), int((~ok).sum()), table)
    return Path(table)


def short_reason(reason: str) -> str:
    """The kind of a recorded exclusion, for a flowchart box: the ``patient '..', file '..': ``
    prefix of an InputError and the details after the next colon are dropped
    ("registration to the atlas failed QC")."""
    text = str(reason).strip()
    match = re.match(r"^patient '[^']*'(?:, file '[^']*')?: ", text)
    if match:
        text = text[match.end():]
    return text.split(":", 1)[0].strip() or "unspecified"


def qc_inclusion_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Fig. 2 rows (``schema.INCLUSION_SUMMARY_COLUMNS``) from qc.tsv tables: per cohort, the
    patients that entered stage ``preprocess`` and those excluded there by kind of reason, then
    the count at stage ``analysed`` (status ok)."""
    import pandas as pd

    rows = []
    for cohort, g in table.groupby("cohort", sort=False):
        bad = g[g["status"] != "ok"]
        rows.append({"cohort": cohort, "stage": "preprocess", "reason": "included", "n": len(g)})
        for reason, n in bad["reason"].map(short_reason).value_counts(sort=False).items():
            rows.append({"cohort": cohort, "stage": "preprocess", "reason": reason, "n": int(n)})
        rows.append({"cohort": cohort, "stage": "analysed", "reason": "included", "n": int((g["status"] == "ok").sum())})
    return pd.DataFrame(rows, columns=list(INCLUSION_SUMMARY_COLUMNS))
