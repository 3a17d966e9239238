"""Table 2: AUC with bootstrap CI, accuracy, sensitivity and specificity per task and group.

Decisions are the argmax of the network's scores. Positive classes: IDH mutated, 1p/19q
co-deleted, grade k (one-vs-rest), and LGG (grade II or III) for LGG vs HGG, where the LGG score
is ``score_grade_2 + score_grade_3`` and the decision is LGG when that exceeds ``score_grade_4``.
The II/III/IV AUC is the one-vs-one macro average (Hand & Till). Groups LGG / HGG are formed by
ground-truth grade. A patient with an unknown label is left out of that task only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from glioma.evaluate.bootstrap import bootstrap_auc, counts_from_indices, resample_indices

log = logging.getLogger(__name__)

TABLE2_COLUMNS: tuple[str, ...] = (
    "group",
    "task",
    "n",
    "auc",
    "auc_ci_low",
    "auc_ci_high",
    "accuracy",
    "sensitivity",
    "specificity",
)

GRADES = np.array([2, 3, 4])

#: (group, task) rows of Table 2, in the paper's order
TABLE2_ROWS: tuple[tuple[str, str], ...] = (
    ("all", "IDH"),
    ("all", "1p19q"),
    ("all", "grade"),
    ("all", "grade_II"),
    ("all", "grade_III"),
    ("all", "grade_IV"),
    ("all", "LGG_vs_HGG"),
    ("LGG", "IDH"),
    ("LGG", "1p19q"),
    ("HGG", "IDH"),
)

TASK_LABELS: dict[str, str] = {
    "IDH": "IDH",
    "1p19q": "1p/19q",
    "grade": "Grade (II/III/IV)",
    "grade_II": "Grade II",
    "grade_III": "Grade III",
    "grade_IV": "Grade IV",
    "LGG_vs_HGG": "LGG vs HGG",
}


@dataclass(frozen=True)
class TaskData:
    """The patients of one Table 2 row: truth, scores and argmax decision.

    Binary tasks: ``y`` is 0/1 (1 = positive), ``score`` 1-D, ``decision`` 0/1.
    The multi-class grade task: ``y`` in {2, 3, 4}, ``score`` ``n x 3``, ``decision`` in {2, 3, 4}.
    """

    group: str
    task: str
    rows: NDArray  # positions of these patients in the predictions frame
    subjects: NDArray
    y: NDArray
    score: NDArray
    decision: NDArray

    @property
    def multiclass(self) -> bool:
        return self.score.ndim == 2

    @property
    def label(self) -> str:
        prefix = "" if self.group == "all" else f"{self.group} patients: "
        return prefix + TASK_LABELS[self.task]


def _norm2(a: pd.Series, b: pd.Series) -> NDArray:
    """Score of ``b`` against ``a`` renormalised to sum to one."""
    a = a.to_numpy(float)
    b = b.to_numpy(float)
    return b / (a + b)


def grade_scores(frame: pd.DataFrame) -> NDArray:
    s = frame[["score_grade_2", "score_grade_3", "score_grade_4"]].to_numpy(float)
    return s / s.sum(axis=1, keepdims=True)


def task_data(frame: pd.DataFrame, group: str, task: str) -> TaskData:
    """Select the patients of one (group, task) with a known label and compute their decision."""
    frame = frame.reset_index(drop=True).assign(_row=np.arange(len(frame)))
    grade = frame["grade"]
    if group == "LGG":
        frame = frame[grade.isin([2, 3]).fillna(False).astype(bool)]
    elif group == "HGG":
        frame = frame[(grade == 4).fillna(False).astype(bool)]
    elif group != "all":
        raise ValueError(f"unknown group {group!r}")
    if task in ("IDH", "1p19q"):
        col, neg, pos = {
            "IDH": ("idh", "score_idh_wildtype", "score_idh_mutated"),
            "1p19q": ("codeletion", "score_1p19q_intact", "score_1p19q_codeleted"),
        }[task]
        f = frame[frame[col].notna()]
        score = _norm2(f[neg], f[pos])
        decision = (f[pos].to_numpy(float) > f[neg].to_numpy(float)).astype(int)
        y = f[col].to_numpy(int)
        return TaskData(group, task, f["_row"].to_numpy(), f["subject"].to_numpy(), y, score, decision)
    f = frame[frame["grade"].notna()]
    g = f["grade"].to_numpy(int)
    s = grade_scores(f)
    argmax = GRADES[np.argmax(s, axis=1)]
    subjects = f["subject"].to_numpy()
    rows = f["_row"].to_numpy()
    if task == "grade":
        return TaskData(group, task, rows, subjects, g, s, argmax)
    if task in ("grade_II", "grade_III", "grade_IV"):
        k = {"grade_II": 2, "grade_III": 3, "grade_IV": 4}[task]
        return TaskData(group, task, rows, subjects, (g == k).astype(int), s[:, k - 2], (argmax == k).astype(int))
    if task == "LGG_vs_HGG":
        lgg = s[:, 0] + s[:, 1]
        return TaskData(group, task, rows, subjects, (g < 4).astype(int), lgg, (lgg > s[:, 2]).astype(int))
    raise ValueError(f"unknown task {task!r}")


def decision_metrics(y: NDArray, decision: NDArray, multiclass: bool = False) -> dict[str, float]:
    """Accuracy, and for binary tasks sensitivity and specificity (NaN where undefined)."""
    out = {"accuracy": float(np.mean(y == decision)) if y.size else float("nan")}
    if multiclass:
        out["sensitivity"] = out["specificity"] = float("nan")
        return out
    pos = y == 1
    neg = ~pos
    out["sensitivity"] = float(np.mean(decision[pos] == 1)) if pos.any() else float("nan")
    out["specificity"] = float(np.mean(decision[neg] == 0)) if neg.any() else float("nan")
    return out


def table2_row(data: TaskData, weights: NDArray, *, ci_method: str) -> dict[str, object]:
    """One row of Table 2; ``weights`` are the whole-cohort resample multiplicities (``B x N``)."""
    row: dict[str, object] = {"group": data.group, "task": data.task, "n": int(data.y.size)}
    classes_present = np.unique(data.y).size
    needed = GRADES.size if data.multiclass else 2
    if classes_present < needed:
        log.warning("%s/%s: only %d class(es) among %d patients: AUC not defined", data.group, data.task, classes_present, data.y.size)
        row.update(auc=np.nan, auc_ci_low=np.nan, auc_ci_high=np.nan)
    else:
        res = bootstrap_auc(
            data.y,
            data.score,
            classes=GRADES if data.multiclass else None,
            method=ci_method,
            weights=weights[:, data.rows],
        )
        row.update(auc=res.estimate, auc_ci_low=res.ci_low, auc_ci_high=res.ci_high)
        if res.n_valid < weights.shape[0]:
            log.info("%s/%s: %d of %d resamples lacked a class and were dropped", data.group, data.task, weights.shape[0] - res.n_valid, weights.shape[0])
    row.update(decision_metrics(data.y, data.decision, data.multiclass))
    return row


def all_task_data(frame: pd.DataFrame) -> list[TaskData]:
    return [task_data(frame, group, task) for group, task in TABLE2_ROWS]


def compute_table2(frame: pd.DataFrame, *, n_resamples: int = 2500, seed: int = 42, ci_method: str = "percentile") -> pd.DataFrame:
    """Table 2 of the paper from an internal predictions frame (see ``predictions``).

    The test set is bootstrapped as a whole (``n_resamples`` resamples of all patients, seeded);
    every row uses the draws that fall on its own patients, so all rows share the resamples.
    """
    n = len(frame)
    weights = counts_from_indices(resample_indices(n, n_resamples, seed), n)
    rows = [table2_row(d, weights, ci_method=ci_method) for d in all_task_data(frame)]
    return pd.DataFrame(rows, columns=list(TABLE2_COLUMNS))


def format_table2(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's presentation: 'AUC (low-high)' and two decimals, n/a for undefined cells."""

    def f(x: float) -> str:
        return "n/a" if pd.isna(x) else f"{x:.2f}"

    out = pd.DataFrame()
    out["task"] = [
        (TASK_LABELS[t] if g == "all" else f"{g} patients: {TASK_LABELS[t]}") for g, t in zip(table["group"], table["task"], strict=True)
    ]
    out["n"] = table["n"].to_numpy()
    out["AUC (95% CI)"] = [
        "n/a" if pd.isna(a) else f"{a:.2f} ({lo:.2f}-{hi:.2f})"
        for a, lo, hi in zip(table["auc"], table["auc_ci_low"], table["auc_ci_high"], strict=True)
    ]
    for col in ("accuracy", "sensitivity", "specificity"):
        out[col] = [f(x) for x in table[col]]
    return out
