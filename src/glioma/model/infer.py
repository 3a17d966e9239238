"""Inference: per-patient class scores and segmentations from a model artefact.

Outputs for one cohort (``out_dir`` = ``results/infer/<cohort>``)::

    predictions.csv                 schema.PREDICTION_COLUMNS, one row per patient
    predictions_prognosais.csv      the same in the published PrognosAIs format (optional)
    excluded.tsv                    cohort, subject, stage, reason (patients that failed)
    <subject>/seg.nii.gz            predicted whole tumour (uint8 0/1), atlas space
    <subject>/native/<seq>_seg.nii.gz   the same mapped onto each native scan's grid

The predictor loads the network once and is called per patient (nnU-Net style).
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
from tqdm import tqdm

from glioma.data.dataset import load_patient
from glioma.data.splits import EXCLUSION_COLUMNS
from glioma.errors import InputError
from glioma.io.atomic import atomic_path, write_table
from glioma.model.artefact import load_artefact
from glioma.model.network import predict_probabilities
from glioma.schema import PREDICTION_COLUMNS, PROGNOSAIS_COLUMNS, SEQUENCES

log = logging.getLogger(__name__)

SCORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "idh": ("score_idh_wildtype", "score_idh_mutated"),
    "codeletion": ("score_1p19q_intact", "score_1p19q_codeleted"),
    "grade": ("score_grade_2", "score_grade_3", "score_grade_4"),
}


class Predictor:
    """A loaded model artefact; ``predict(folder)`` -> (scores, atlas-space mask, affine)."""

    def __init__(self, model_dir: str | Path, threads: int | None = None):
        if threads:
            torch.set_num_threads(int(threads))
        self.net, self.info = load_artefact(model_dir)
        shape = self.info.get("input_shape")
        self.input_shape = None if shape is None else tuple(shape)

    @torch.no_grad()
    def predict(self, folder: str | Path, subject: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        record = load_patient(folder, subject, input_shape=None)
        image = record["image"]
        original = image.shape[1:]
        if self.input_shape is not None:
            image = np.asarray(ResizeWithPadOrCrop(list(self.input_shape))(image), dtype=np.float32)
        probs = predict_probabilities(self.net(torch.from_numpy(image)[None]))
        mask = probs["seg"][0].argmax(0).to(torch.uint8).numpy()
        if self.input_shape is not None:  # centre pad/crop is undone by the same op
            mask = np.asarray(ResizeWithPadOrCrop(list(original))(mask[None]))[0].astype(np.uint8)
        scores = {task: probs[task][0].numpy() for task in SCORE_COLUMNS}
        return scores, mask, record["affine"]


def write_mask(mask: np.ndarray, affine: np.ndarray, path: str | Path) -> Path:
    img = nib.Nifti1Image(mask.astype(np.uint8), affine)
    img.header.set_data_dtype(np.uint8)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return Path(path)


def map_segmentation_to_native(
    atlas_seg: str | Path, preprocess_dir: str | Path, out_dir: str | Path,
    sequences: Sequence[str] = SEQUENCES,
) -> list[Path]:
    """Map an atlas-space mask onto each native scan with the preprocessing transforms
    (``<preprocess_dir>/transforms``, see :mod:`glioma.preprocess.registration`)."""
    from glioma.preprocess.registration import map_to_native

    outputs = []
    transforms = Path(preprocess_dir) / "transforms"
    if not (transforms / "transforms.json").is_file():
        raise InputError("no preprocessing transforms to map back with", path=transforms)
    for seq in sequences:
        out = Path(out_dir) / f"{seq}_seg.nii.gz"
        outputs.append(map_to_native(atlas_seg, preprocess_dir, seq, out, interpolator="genericLabel"))
    return outputs


def _predict_one(predictor: Predictor, folder: Path, subject: str, out_dir: Path, *, native: bool) -> dict:
    """Scores of one preprocessed patient; writes ``out_dir/seg.nii.gz`` (+ ``native/``)."""
    scores, mask, affine = predictor.predict(folder, subject)
    seg_path = write_mask(mask, affine, out_dir / "seg.nii.gz")
    if native:
        map_segmentation_to_native(seg_path, folder, out_dir / "native")
    return scores


def predict_patient(
    model_dir: str | Path,
    patient_dir: str | Path,
    out_dir: str | Path,
    *,
    subject: str | None = None,
    native: bool = True,
    threads: int | None = None,
) -> pd.DataFrame:
    """Run the model on one patient preprocessed by ``glioma preprocess --out patient_dir``.

    Writes ``out_dir/predictions.csv`` (one row, truth unknown), ``out_dir/seg.nii.gz`` (atlas
    space) and, with ``native``, ``out_dir/native/<seq>_seg.nii.gz`` on each native scan.
    """
    patient_dir, out_dir = Path(patient_dir), Path(out_dir)
    subject = subject or patient_dir.name
    predictor = Predictor(model_dir, threads=threads)
    scores = _predict_one(predictor, patient_dir, subject, out_dir, native=native)
    out = {"cohort": "", "subject": subject, "idh": "", "codeletion": "", "grade": ""}
    for task, columns in SCORE_COLUMNS.items():
        out.update({c: float(v) for c, v in zip(columns, scores[task], strict=True)})
    frame = pd.DataFrame([out], columns=list(PREDICTION_COLUMNS))
    write_table(out_dir / "predictions.csv", frame, float_format="%.6f")
    log.info("%s: IDH mutated %.2f, 1p/19q co-deleted %.2f, grade II/III/IV %.2f/%.2f/%.2f", subject,
             out["score_idh_mutated"], out["score_1p19q_codeleted"], out["score_grade_2"],
             out["score_grade_3"], out["score_grade_4"])
    return frame


def predict_cohort(
    model_dir: str | Path,
    splits: pd.DataFrame,
    cohort: str,
    preprocess_root: str | Path,
    out_dir: str | Path,
    *,
    folds: Sequence[str] = ("test",),
    native: bool = True,
    prognosais: bool = True,
    threads: int | None = None,
) -> pd.DataFrame:
    """Predict every patient of ``cohort`` in ``folds``; writes the files of the module docstring."""
    out_dir = Path(out_dir)
    predictor = Predictor(model_dir, threads=threads)
    chosen = splits[(splits["cohort"] == cohort) & splits["fold"].isin(list(folds))]
    rows, excluded = [], []
    for row in tqdm(chosen.to_dict("records"), desc=f"predict {cohort}"):
        subject = row["subject"]
        folder = Path(preprocess_root) / cohort / subject
        try:
            scores = _predict_one(predictor, folder, subject, out_dir / subject, native=native)
        except InputError as err:
            log.warning("%s/%s not predicted: %s", cohort, subject, err)
            excluded.append({"cohort": cohort, "subject": subject, "stage": "infer", "reason": str(err)})
            continue
        out = {"cohort": cohort, "subject": subject, "idh": row.get("idh", ""),
               "codeletion": row.get("codeletion", ""), "grade": row.get("grade", "")}
        for task, columns in SCORE_COLUMNS.items():
            out.update({c: float(v) for c, v in zip(columns, scores[task], strict=True)})
        rows.append(out)
    frame = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
    write_table(out_dir / "predictions.csv", frame, float_format="%.6f")
    write_table(out_dir / "excluded.tsv", pd.DataFrame(excluded, columns=list(EXCLUSION_COLUMNS)))
    if prognosais:
        write_table(out_dir / "predictions_prognosais.csv", to_prognosais(frame), float_format="%.6f")
    log.info("%s: %d patients predicted, %d failed", cohort, len(frame), len(excluded))
    return frame


def _truth(value: object) -> int:
    text = "" if value is None else str(value).strip()
    return -1 if text in {"", "nan"} else int(float(text))


def to_prognosais(predictions: pd.DataFrame) -> pd.DataFrame:
    """Our prediction table -> the PrognosAIs ``test_predictions.csv`` format (unknown = -1)."""
    out = pd.DataFrame({
        "Data_collection": predictions["cohort"],
        "Patient": predictions["subject"],
        "IDH_mutated": predictions["idh"].map(_truth),
        "Prediction_score_IDH_wildtype": predictions["score_idh_wildtype"],
        "Prediction_score_IDH_mutated": predictions["score_idh_mutated"],
        "1p19q_codeleted": predictions["codeletion"].map(_truth),
        "Prediction_score_1p19q_intact": predictions["score_1p19q_intact"],
        "Prediction_score_1p19q_codeleted": predictions["score_1p19q_codeleted"],
        "Grade": predictions["grade"].map(_truth),
        "Prediction_score_grade_2": predictions["score_grade_2"],
        "Prediction_score_grade_3": predictions["score_grade_3"],
        "Prediction_score_grade_4": predictions["score_grade_4"],
    })
    return out[list(PROGNOSAIS_COLUMNS)]


def from_prognosais(table: pd.DataFrame) -> pd.DataFrame:
    """The PrognosAIs format -> our prediction table (for comparing both tools' outputs)."""
    def unified(values: pd.Series) -> pd.Series:
        return values.map(lambda v: "" if int(float(v)) == -1 else str(int(float(v))))

    return pd.DataFrame({
        "cohort": table["Data_collection"].astype(str),
        "subject": table["Patient"].astype(str),
        "idh": unified(table["IDH_mutated"]),
        "codeletion": unified(table["1p19q_codeleted"]),
        "grade": unified(table["Grade"]),
        "score_idh_wildtype": table["Prediction_score_IDH_wildtype"].astype(float),
        "score_idh_mutated": table["Prediction_score_IDH_mutated"].astype(float),
        "score_1p19q_intact": table["Prediction_score_1p19q_intact"].astype(float),
        "score_1p19q_codeleted": table["Prediction_score_1p19q_codeleted"].astype(float),
        "score_grade_2": table["Prediction_score_grade_2"].astype(float),
        "score_grade_3": table["Prediction_score_grade_3"].astype(float),
        "score_grade_4": table["Prediction_score_grade_4"].astype(float),
    })[list(PREDICTION_COLUMNS)]


ORACLE_SCORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "idh": ("oracle_p_idh_mutated",),
    "codeletion": ("oracle_p_1p19q_codeleted",),
    "grade": ("oracle_p_grade_2", "oracle_p_grade_3", "oracle_p_grade_4"),
}


def _oracle_scores(task: str, oracle: pd.DataFrame, subjects: pd.Series) -> np.ndarray:
    """The generator's posterior for ``task`` on ``subjects`` (class-score matrix like the model's)."""
    table = oracle.assign(subject=oracle["subject"].astype(str)).set_index("subject")
    missing = sorted(set(subjects) - set(table.index))
    if missing:
        raise ValueError(f"oracle table lacks predicted patients {missing[:5]}")
    p = table.loc[list(subjects), list(ORACLE_SCORE_COLUMNS[task])].to_numpy(dtype=float)
    return np.column_stack([1 - p[:, 0], p[:, 0]]) if p.shape[1] == 1 else p


def model_vs_oracle(predictions: pd.DataFrame, oracle: dict | pd.DataFrame, dice: float) -> pd.DataFrame:
    """``task,model_auc,oracle_auc`` for IDH, 1p19q, grade and a ``dice`` row (oracle 1).

    ``oracle`` is either the generator's per-patient posterior table (``oracle.tsv``: the oracle
    AUC is then computed on exactly the predicted patients and their labels, the fair
    comparison) or a mapping task -> AUC (``oracle_auc.json``, over the whole raw cohort).
    """
    from glioma.model.lightning import task_auc

    rows = []
    for task, name in (("idh", "IDH"), ("codeletion", "1p19q"), ("grade", "grade")):
        truth = predictions[task].map(lambda v: -1 if str(v).strip() in {"", "nan"} else int(float(v)))
        truth = truth.to_numpy()
        if task == "grade":
            truth = np.where(truth >= 0, truth - 2, -1)
        scores = predictions[list(SCORE_COLUMNS[task])].to_numpy(dtype=float)
        if isinstance(oracle, pd.DataFrame):
            oracle_auc = task_auc(task, truth, _oracle_scores(task, oracle, predictions["subject"].astype(str)))
        else:
            value = oracle.get(name)
            oracle_auc = float("nan") if value is None else float(value)
        rows.append({"task": name, "model_auc": task_auc(task, truth, scores), "oracle_auc": oracle_auc})
    rows.append({"task": "dice", "model_auc": float(dice), "oracle_auc": 1.0})
    return pd.DataFrame(rows, columns=["task", "model_auc", "oracle_auc"])


def mean_dice(predictions: pd.DataFrame, infer_dir: str | Path, preprocess_root: str | Path) -> float:
    """Mean whole-tumour Dice (atlas space) over the predicted patients with a reference mask."""
    from glioma.model.lightning import hard_dice

    values = []
    for row in predictions.to_dict("records"):
        reference = Path(preprocess_root) / row["cohort"] / row["subject"] / "seg.nii.gz"
        predicted = Path(infer_dir) / row["subject"] / "seg.nii.gz"
        if not reference.is_file() or not predicted.is_file():
            continue
        ref = torch.from_numpy(np.asarray(nib.load(str(reference)).dataobj) > 0)[None]
        pred = torch.from_numpy(np.asarray(nib.load(str(predicted)).dataobj) > 0)[None]
        values.append(float(hard_dice(pred, ref)[0]))
    return float(np.mean(values)) if values else float("nan")


def write_model_vs_oracle(
    predictions_csv: str | Path, oracle_file: str | Path, infer_dir: str | Path,
    preprocess_root: str | Path, out: str | Path,
) -> pd.DataFrame:
    """Compare the model's test AUCs with the synthetic generator's oracle (``oracle.tsv`` or
    ``oracle_auc.json``)."""
    import json

    from glioma.data.splits import read_table

    predictions = read_table(predictions_csv)
    oracle_file = Path(oracle_file)
    if oracle_file.suffix == ".json":
        oracle: dict | pd.DataFrame = json.loads(oracle_file.read_text())
    else:
        oracle = pd.read_csv(oracle_file, sep="\t", dtype={"subject": str})
    frame = model_vs_oracle(predictions, oracle, mean_dice(predictions, infer_dir, preprocess_root))
    write_table(out, frame, float_format="%.4f")
    log.info("model vs oracle:\n%s", frame.to_string(index=False))
    return frame
