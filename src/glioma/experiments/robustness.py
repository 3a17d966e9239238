"""Robustness examples (Supplementary F and K), picked automatically from the test set.

* the most confidently wrong predictions: for IDH, 1p/19q and grade, the patients whose predicted
  class (argmax) differs from the truth, ranked by the predicted class's score;
* the lowest-quality scans: a noise index per patient from the preprocessed volumes (robust
  standard deviation of the Laplacian inside the eroded brain, mean over the four sequences: on
  z-scored images white noise raises it, smooth anatomy does not).

Outputs (``out_dir`` = ``results/experiments/robustness/<cohort>``)::

    cases.csv        cohort, subject, kind (wrong|low_quality), task, truth, predicted,
                     confidence, noise_index, dice
    quality.csv      cohort, subject, noise_index (every predicted patient)
    overlays.png/.pdf  each case: the chosen sequence at the tumour slice, reference (green) and
                     predicted (red) tumour outlines, and why it was picked
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from tqdm import tqdm

from glioma.errors import InputError
from glioma.io.atomic import write_table
from glioma.model.infer import SCORE_COLUMNS
from glioma.schema import PREPROCESS_FILES, SEQUENCES

log = logging.getLogger(__name__)

CASE_COLUMNS: tuple[str, ...] = ("cohort", "subject", "kind", "task", "truth", "predicted",
                                 "confidence", "noise_index", "dice")
TASK_CLASSES: dict[str, tuple[str, ...]] = {"idh": ("0", "1"), "codeletion": ("0", "1"),
                                            "grade": ("2", "3", "4")}


def confidently_wrong(predictions: pd.DataFrame, n: int = 3,
                      tasks: Sequence[str] = ("idh", "codeletion", "grade")) -> pd.DataFrame:
    """The ``n`` most confident wrong predictions over ``tasks`` (a patient at most once)."""
    rows = []
    for task in tasks:
        scores = predictions[list(SCORE_COLUMNS[task])].astype(float).to_numpy()
        predicted = np.asarray(TASK_CLASSES[task])[scores.argmax(axis=1)]
        truth = predictions[task].astype(str).str.strip().map(
            lambda v: "" if v in {"", "nan"} else str(int(float(v))))
        for i in np.flatnonzero((truth != "").to_numpy() & (truth.to_numpy() != predicted)):
            rows.append({"cohort": predictions["cohort"].iloc[i], "subject": predictions["subject"].iloc[i],
                         "kind": "wrong", "task": task, "truth": truth.iloc[i],
                         "predicted": predicted[i], "confidence": float(scores[i].max())})
    frame = pd.DataFrame(rows, columns=["cohort", "subject", "kind", "task", "truth", "predicted", "confidence"])
    frame = frame.sort_values(["confidence", "subject"], ascending=[False, True])
    return frame.drop_duplicates("subject").head(n).reset_index(drop=True)


def noise_index(folder: str | Path, subject: str) -> float:
    """Mean over sequences of 1.4826 * MAD of the Laplacian inside the eroded brain mask."""
    folder = Path(folder)
    mask_path = folder / PREPROCESS_FILES["brain_mask"]
    if not mask_path.is_file():
        raise InputError("no brain mask", subject=subject, path=mask_path)
    brain = ndi.binary_erosion(np.asarray(nib.load(str(mask_path)).dataobj) > 0, iterations=1)
    if brain.sum() < 50:
        raise InputError("brain mask too small for a noise estimate", subject=subject, path=mask_path)
    values = []
    for seq in SEQUENCES:
        path = folder / PREPROCESS_FILES[seq]
        if not path.is_file():
            raise InputError("missing preprocessed volume", subject=subject, path=path)
        lap = ndi.laplace(np.asarray(nib.load(str(path)).dataobj, dtype=np.float32))[brain]
        values.append(1.4826 * float(np.median(np.abs(lap - np.median(lap)))))
    return float(np.mean(values))


def _dice(ref: np.ndarray | None, pred: np.ndarray | None) -> float:
    if ref is None or pred is None:
        return float("nan")
    total = ref.sum() + pred.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(ref, pred).sum() / total)


def _mask(path: Path) -> np.ndarray | None:
    return (np.asarray(nib.load(str(path)).dataobj) > 0) if path.is_file() else None


def write_robustness(
    predictions_csv: str | Path,
    infer_dir: str | Path,
    preprocess_root: str | Path,
    cohort: str,
    out_dir: str | Path,
    *,
    n_wrong: int = 3,
    n_low_quality: int = 1,
    sequence: str = "t1c",
) -> pd.DataFrame:
    """Pick and draw the robustness examples (see the module docstring)."""
    from glioma.data.splits import read_table
    from glioma.plots.segmentation import overlay_figure
    from glioma.plots.style import save_png_pdf

    out_dir = Path(out_dir)
    predictions = read_table(predictions_csv)
    quality = []
    for subject in tqdm(predictions["subject"], desc=f"quality {cohort}"):
        try:
            value = noise_index(Path(preprocess_root) / cohort / subject, subject)
        except InputError as err:
            log.warning("robustness: %s", err)
            value = float("nan")
        quality.append({"cohort": cohort, "subject": subject, "noise_index": value})
    quality_frame = pd.DataFrame(quality, columns=["cohort", "subject", "noise_index"])
    write_table(out_dir / "quality.csv", quality_frame, float_format="%.5f")
    noise = dict(zip(quality_frame["subject"], quality_frame["noise_index"], strict=True))
    wrong = confidently_wrong(predictions, n_wrong)
    low = quality_frame.dropna().nlargest(n_low_quality, "noise_index").assign(
        kind="low_quality", task="", truth="", predicted="", confidence=np.nan)
    cases = pd.concat([wrong, low.drop(columns="noise_index")], ignore_index=True)
    cases["noise_index"] = cases["subject"].map(noise)
    figure_cases, dice = [], []
    for row in cases.to_dict("records"):
        folder = Path(preprocess_root) / cohort / row["subject"]
        ref = _mask(folder / PREPROCESS_FILES["seg"])
        pred = _mask(Path(infer_dir) / row["subject"] / "seg.nii.gz")
        dice.append(_dice(ref, pred))
        image_path = folder / PREPROCESS_FILES[sequence]
        if not image_path.is_file():
            log.warning("robustness: %s/%s has no %s to draw", cohort, row["subject"], sequence)
            continue
        image = np.asarray(nib.load(str(image_path)).dataobj, dtype=np.float32)
        if row["kind"] == "wrong":
            why = f"{row['task']}: true {row['truth']}, pred {row['predicted']} ({row['confidence']:.2f})"
        else:
            why = f"noise index {row['noise_index']:.2f}"
        figure_cases.append({"title": f"{row['subject']}\n{why}", "image": image, "reference": ref,
                             "prediction": pred})
    cases["dice"] = dice
    cases = cases[list(CASE_COLUMNS)]
    write_table(out_dir / "cases.csv", cases, float_format="%.4f")
    save_png_pdf(overlay_figure(figure_cases), out_dir / "overlays.png")
    log.info("robustness cases of %s:\n%s", cohort, cases.to_string(index=False))
    return cases
