"""Comparing experiment runs with the main model on the same test set (Appendices I and L).

For every run (and the main model as ``full``): the AUC of each task with its bootstrap CI (the
same whole-test-set resampling as Table 2, :func:`glioma.evaluate.classification.compute_table2`)
and the mean whole-tumour Dice with a bootstrap CI of the mean. One long table, one row per
(run, task)::

    experiment, run, description, cohort, training_patients, task, n, value, ci_low, ci_high

``task`` is one of :data:`COMPARED_TASKS` (AUCs) or ``dice``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from glioma.evaluate.bootstrap import confidence_interval, resample_indices
from glioma.evaluate.classification import compute_table2
from glioma.evaluate.predictions import read_predictions
from glioma.io.atomic import write_table
from glioma.schema import PREPROCESS_FILES

log = logging.getLogger(__name__)

COMPARISON_COLUMNS: tuple[str, ...] = (
    "experiment", "run", "description", "cohort", "training_patients", "task", "n", "value",
    "ci_low", "ci_high",
)
#: Table 2 rows compared between runs (group "all")
COMPARED_TASKS: tuple[str, ...] = ("IDH", "1p19q", "grade", "grade_II", "grade_III", "grade_IV",
                                   "LGG_vs_HGG")
TASK_TITLES: dict[str, str] = {
    "IDH": "IDH", "1p19q": "1p/19q", "grade": "grade (II/III/IV)", "grade_II": "grade II",
    "grade_III": "grade III", "grade_IV": "grade IV", "LGG_vs_HGG": "LGG vs HGG", "dice": "Dice",
}


@dataclass(frozen=True)
class RunResult:
    """Where one run's test predictions are: ``predictions`` CSV, its folder of per-patient
    ``<subject>/seg.nii.gz``, and the model folder (for ``run.json`` / ``model.json``)."""

    run: str
    predictions: Path
    model_dir: Path
    description: str = ""


def patient_dice(predictions: pd.DataFrame, infer_dir: str | Path, preprocess_root: str | Path) -> pd.Series:
    """Whole-tumour Dice per patient (NaN without a reference segmentation), atlas space."""
    values = []
    for row in predictions.to_dict("records"):
        ref_path = Path(preprocess_root) / row["cohort"] / row["subject"] / PREPROCESS_FILES["seg"]
        pred_path = Path(infer_dir) / row["subject"] / "seg.nii.gz"
        if not ref_path.is_file() or not pred_path.is_file():
            values.append(np.nan)
            continue
        ref = np.asarray(nib.load(str(ref_path)).dataobj) > 0
        pred = np.asarray(nib.load(str(pred_path)).dataobj) > 0
        total = ref.sum() + pred.sum()
        values.append(1.0 if total == 0 else float(2 * np.logical_and(ref, pred).sum() / total))
    return pd.Series(values, index=predictions.index, dtype=float)


def mean_with_ci(values: np.ndarray, *, n_resamples: int, seed: int, method: str = "percentile"
                 ) -> tuple[float, float, float]:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    estimate = float(values.mean())
    reps = values[resample_indices(values.size, n_resamples, seed)].mean(axis=1)
    low, high = confidence_interval(estimate, reps, method=method)
    return estimate, low, high


def _training_patients(model_dir: Path) -> int | None:
    for name in ("run.json", "model.json"):
        path = model_dir / name
        if path.is_file():
            info = json.loads(path.read_text())
            value = info.get("training_patients", (info.get("training") or {}).get("patients"))
            if value is not None:
                return int(value)
    return None


def run_metrics(result: RunResult, *, experiment: str, cohort: str, preprocess_root: str | Path,
                n_resamples: int = 1000, seed: int = 42, ci_method: str = "percentile") -> pd.DataFrame:
    """The comparison rows (see the module docstring) of one run on one test cohort."""
    frame = read_predictions(result.predictions)
    table = compute_table2(frame, n_resamples=n_resamples, seed=seed, ci_method=ci_method)
    table = table[(table["group"] == "all") & table["task"].isin(COMPARED_TASKS)]
    rows = [{"task": r["task"], "n": int(r["n"]), "value": r["auc"], "ci_low": r["auc_ci_low"],
             "ci_high": r["auc_ci_high"]} for r in table.to_dict("records")]
    dice = patient_dice(frame, result.predictions.parent, preprocess_root).to_numpy()
    value, low, high = mean_with_ci(dice, n_resamples=n_resamples, seed=seed, method=ci_method)
    rows.append({"task": "dice", "n": int(np.count_nonzero(~np.isnan(dice))), "value": value,
                 "ci_low": low, "ci_high": high})
    out = pd.DataFrame(rows)
    out.insert(0, "training_patients", _training_patients(result.model_dir))
    out.insert(0, "cohort", cohort)
    out.insert(0, "description", result.description or result.run)
    out.insert(0, "run", result.run)
    out.insert(0, "experiment", experiment)
    return out[list(COMPARISON_COLUMNS)]


def compare_runs(results: Sequence[RunResult], *, experiment: str, cohort: str,
                 preprocess_root: str | Path, n_resamples: int = 1000, seed: int = 42,
                 ci_method: str = "percentile") -> pd.DataFrame:
    """All runs' rows, the runs in the given order (the reference first by convention)."""
    frames = [run_metrics(r, experiment=experiment, cohort=cohort, preprocess_root=preprocess_root,
                          n_resamples=n_resamples, seed=seed, ci_method=ci_method) for r in results]
    return pd.concat(frames, ignore_index=True)


def ablation_figure(table: pd.DataFrame, tasks: Sequence[str] = ("IDH", "1p19q", "grade", "dice")):  # noqa: ANN201
    """One panel per task: each run's value with its 95% CI; the reference as a dashed line."""
    from glioma.plots.style import DOUBLE_COLUMN, RC, plt, subplots

    runs = list(dict.fromkeys(table["run"]))
    fig, axes = subplots(1, len(tasks), width=DOUBLE_COLUMN, height=2.3, squeeze=False, sharey=True)
    with plt.rc_context(RC):
        for ax, task in zip(axes.ravel(), tasks, strict=True):
            sub = table[table["task"] == task].set_index("run").reindex(runs)
            y = np.arange(len(runs))
            value = sub["value"].to_numpy(float)
            err = np.vstack([value - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - value])
            ax.errorbar(value, y, xerr=np.nan_to_num(err), fmt="o", ms=3, capsize=2, color="k")
            if "full" in sub.index and np.isfinite(sub.loc["full", "value"]):
                ax.axvline(sub.loc["full", "value"], ls="--", lw=0.7, color="tab:blue")
            ax.set_yticks(y, list(sub["description"].fillna(pd.Series(runs, index=runs))))
            ax.invert_yaxis()
            ax.set_xlim(0.0 if task == "dice" else 0.3, 1.0)
            ax.set_xlabel("mean Dice" if task == "dice" else "AUC")
            ax.set_title(TASK_TITLES.get(task, task))
        fig.tight_layout()
    return fig


def learning_curve_figure(table: pd.DataFrame, tasks: Sequence[str] = ("IDH", "1p19q", "grade", "dice")):  # noqa: ANN201
    """Test performance (95% CI) against the number of training patients, one panel per task;
    every run is a point labelled with its name (fractions and sources alike)."""
    from glioma.plots.style import DOUBLE_COLUMN, RC, plt, subplots

    fig, axes = subplots(1, len(tasks), width=DOUBLE_COLUMN, height=2.3, squeeze=False)
    with plt.rc_context(RC):
        for ax, task in zip(axes.ravel(), tasks, strict=True):
            sub = table[table["task"] == task].copy()
            sub["x"] = pd.to_numeric(sub["training_patients"], errors="coerce")
            sub = sub.sort_values("x")
            ax.errorbar(sub["x"], sub["value"], yerr=np.nan_to_num(np.vstack([
                sub["value"] - sub["ci_low"], sub["ci_high"] - sub["value"]]).astype(float)),
                fmt="o", ms=3, capsize=2, color="k", lw=0.8)
            for x, v, name in zip(sub["x"], sub["value"], sub["run"], strict=True):
                ax.annotate(name, (x, v), fontsize=5, xytext=(2, 2), textcoords="offset points")
            ax.set_ylim(0.0 if task == "dice" else 0.3, 1.02)
            ax.set_xlabel("training patients")
            ax.set_ylabel("mean Dice" if task == "dice" else "AUC")
            ax.set_title(TASK_TITLES.get(task, task))
        fig.tight_layout()
    return fig


def write_comparison(
    experiment: str,
    runs: Mapping[str, tuple[str | Path, str | Path, str]],
    cohort: str,
    preprocess_root: str | Path,
    table_csv: str | Path,
    figure_png: str | Path,
    *,
    n_resamples: int = 1000,
    seed: int = 42,
    ci_method: str = "percentile",
) -> pd.DataFrame:
    """``runs``: run -> (predictions CSV, model folder, description), reference first. Writes
    the comparison table and the experiment's figure (ablation: per-task CIs; subsets: the
    learning curve) as PNG and PDF."""
    from glioma.plots.style import save_png_pdf

    results = [RunResult(name, Path(p), Path(m), d) for name, (p, m, d) in runs.items()]
    table = compare_runs(results, experiment=experiment, cohort=cohort, preprocess_root=preprocess_root,
                         n_resamples=n_resamples, seed=seed, ci_method=ci_method)
    write_table(table_csv, table, float_format="%.4f")
    figure = learning_curve_figure(table) if experiment == "subsets" else ablation_figure(table)
    save_png_pdf(figure, figure_png)
    log.info("%s on %s:\n%s", experiment, cohort,
             table.pivot(index="run", columns="task", values="value").round(3).to_string())
    return table
