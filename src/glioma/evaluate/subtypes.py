"""WHO 2016 and WHO 2021 subtypes from (IDH, 1p/19q, grade), confusion matrices, per-subtype scores.

WHO 2016 (as in the paper): IDH-mutated + 1p/19q co-deleted = oligodendroglioma; IDH-mutated +
intact = astrocytoma (grade II/III) or glioblastoma (grade IV), IDH-mutated; IDH-wildtype +
intact = astrocytoma (II/III) or glioblastoma (IV), IDH-wildtype; IDH-wildtype + co-deleted is
not a WHO entity and is counted as ``impossible`` (the paper counts it too).

WHO 2021, simplified to the three labels the network predicts (documented in README.md):
IDH-mutant + co-deleted = oligodendroglioma, IDH-mutant and 1p/19q-codeleted; IDH-mutant +
intact = astrocytoma, IDH-mutant, CNS WHO grade 2/3/4 (grade from histology: CDKN2A/B is not
available, so no molecular upgrade to grade 4); every IDH-wildtype tumour = glioblastoma,
IDH-wildtype (TERT / EGFR / +7/-10 are not available, so IDH-wildtype grade II/III tumours are
assumed to be molecular glioblastomas); IDH-wildtype + co-deleted stays ``impossible``.

Unknown inputs give an unknown subtype (``<NA>``) only where they matter: an IDH-wildtype
tumour does not need its 1p/19q status for WHO 2016 astrocytoma / glioblastoma (if that status
is unknown), an oligodendroglioma does not need its grade.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from glioma.evaluate.classification import grade_scores

WHO2016_CLASSES: tuple[str, ...] = (
    "oligodendroglioma",
    "astrocytoma IDH-mutated",
    "astrocytoma IDH-wildtype",
    "glioblastoma IDH-mutated",
    "glioblastoma IDH-wildtype",
    "impossible (IDH-wildtype, 1p/19q co-deleted)",
)
WHO2021_CLASSES: tuple[str, ...] = (
    "oligodendroglioma, IDH-mutant and 1p/19q-codeleted",
    "astrocytoma, IDH-mutant, CNS WHO grade 2",
    "astrocytoma, IDH-mutant, CNS WHO grade 3",
    "astrocytoma, IDH-mutant, CNS WHO grade 4",
    "glioblastoma, IDH-wildtype",
    "impossible (IDH-wildtype, 1p/19q co-deleted)",
)
IMPOSSIBLE = WHO2016_CLASSES[-1]


def _known(x: object) -> bool:
    return x is not None and not pd.isna(x)


def who2016(idh: object, codeletion: object, grade: object) -> str | None:
    """WHO 2016 subtype of one patient, or None if the known labels do not determine it."""
    if not _known(idh):
        return None
    if int(idh) == 1:
        if not _known(codeletion):
            return None
        if int(codeletion) == 1:
            return WHO2016_CLASSES[0]
        if not _known(grade):
            return None
        return WHO2016_CLASSES[3] if int(grade) == 4 else WHO2016_CLASSES[1]
    if _known(codeletion) and int(codeletion) == 1:
        return IMPOSSIBLE
    if not _known(grade):
        return None
    return WHO2016_CLASSES[4] if int(grade) == 4 else WHO2016_CLASSES[2]


def who2021(idh: object, codeletion: object, grade: object) -> str | None:
    """Simplified WHO 2021 subtype of one patient (see the module docstring), or None."""
    if not _known(idh):
        return None
    if int(idh) == 1:
        if not _known(codeletion):
            return None
        if int(codeletion) == 1:
            return WHO2021_CLASSES[0]
        if not _known(grade):
            return None
        return f"astrocytoma, IDH-mutant, CNS WHO grade {int(grade)}"
    if _known(codeletion) and int(codeletion) == 1:
        return IMPOSSIBLE
    return WHO2021_CLASSES[4]


def predicted_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Argmax decisions: ``pred_idh`` (1 = mutated), ``pred_codeletion``, ``pred_grade`` (2/3/4)."""
    out = pd.DataFrame(index=frame.index)
    out["pred_idh"] = (frame["score_idh_mutated"] > frame["score_idh_wildtype"]).astype(int)
    out["pred_codeletion"] = (frame["score_1p19q_codeleted"] > frame["score_1p19q_intact"]).astype(int)
    out["pred_grade"] = np.array([2, 3, 4])[np.argmax(grade_scores(frame), axis=1)]
    return out


def add_subtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Frame plus predicted labels and true / predicted WHO 2016 and WHO 2021 subtypes."""
    out = pd.concat([frame, predicted_labels(frame)], axis=1)
    for name, fn in (("who2016", who2016), ("who2021", who2021)):
        out[f"{name}_true"] = pd.array(
            [fn(i, c, g) for i, c, g in zip(out["idh"], out["codeletion"], out["grade"], strict=True)], dtype="string"
        )
        out[f"{name}_pred"] = pd.array(
            [fn(i, c, g) for i, c, g in zip(out["pred_idh"], out["pred_codeletion"], out["pred_grade"], strict=True)],
            dtype="string",
        )
    return out


#: confusion matrix name -> (truth column, predicted column, class order, class labels)
CONFUSION_TASKS: dict[str, tuple[str, str, tuple, tuple[str, ...]]] = {
    "idh": ("idh", "pred_idh", (0, 1), ("IDH wildtype", "IDH mutated")),
    "1p19q": ("codeletion", "pred_codeletion", (0, 1), ("1p/19q intact", "1p/19q co-deleted")),
    "grade": ("grade", "pred_grade", (2, 3, 4), ("grade II", "grade III", "grade IV")),
    "who2016": ("who2016_true", "who2016_pred", WHO2016_CLASSES, WHO2016_CLASSES),
    "who2021": ("who2021_true", "who2021_pred", WHO2021_CLASSES, WHO2021_CLASSES),
}


def confusion_matrix(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Counts with rows = ground truth, columns = prediction; unknown truth left out.

    ``frame`` must come from ``add_subtypes``. Index and columns are the readable class labels.
    """
    truth_col, pred_col, classes, labels = CONFUSION_TASKS[name]
    f = frame[frame[truth_col].notna()]
    truth = f[truth_col].astype(object).to_numpy()
    pred = f[pred_col].astype(object).to_numpy()
    matrix = np.zeros((len(classes), len(classes)), dtype=int)
    index = {c: i for i, c in enumerate(classes)}
    for t, p in zip(truth, pred, strict=True):
        matrix[index[t], index[p]] += 1
    return pd.DataFrame(matrix, index=pd.Index(labels, name="truth"), columns=pd.Index(labels, name="prediction"))


SUBTYPE_PERFORMANCE_COLUMNS: tuple[str, ...] = (
    "classification",
    "subtype",
    "n_true",
    "n_predicted",
    "n_correct",
    "sensitivity",
    "precision",
)


def subtype_performance(frame: pd.DataFrame) -> pd.DataFrame:
    """Per subtype (WHO 2016 and 2021): patients, predictions, correct, sensitivity, precision.

    Only patients whose true subtype is known are counted (also for ``n_predicted``).
    """
    rows = []
    for name in ("who2016", "who2021"):
        cm = confusion_matrix(frame, name)
        for i, label in enumerate(cm.index):
            n_true = int(cm.iloc[i, :].sum())
            n_pred = int(cm.iloc[:, i].sum())
            correct = int(cm.iloc[i, i])
            rows.append(
                {
                    "classification": name,
                    "subtype": label,
                    "n_true": n_true,
                    "n_predicted": n_pred,
                    "n_correct": correct,
                    "sensitivity": correct / n_true if n_true else np.nan,
                    "precision": correct / n_pred if n_pred else np.nan,
                }
            )
        total = int(cm.to_numpy().sum())
        rows.append(
            {
                "classification": name,
                "subtype": "all (accuracy)",
                "n_true": total,
                "n_predicted": total,
                "n_correct": int(np.trace(cm.to_numpy())),
                "sensitivity": np.trace(cm.to_numpy()) / total if total else np.nan,
                "precision": np.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(SUBTYPE_PERFORMANCE_COLUMNS))


APPENDIX_E_COLUMNS: tuple[str, ...] = (
    "cohort",
    "subject",
    "idh",
    "pred_idh",
    "score_idh_mutated",
    "codeletion",
    "pred_codeletion",
    "score_1p19q_codeleted",
    "grade",
    "pred_grade",
    "score_grade_2",
    "score_grade_3",
    "score_grade_4",
    "who2016_true",
    "who2016_pred",
    "who2021_true",
    "who2021_pred",
)


def per_patient_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Appendix E: one row per patient with truth, decision, scores and subtypes."""
    return add_subtypes(frame).loc[:, list(APPENDIX_E_COLUMNS)]
