"""Oracle AUCs: how well the generator's own posterior separates the true labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def _binary_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, score))


def oracle_aucs(oracle: pd.DataFrame) -> dict[str, float | None]:
    """AUC of the posterior against the true labels over all rows of ``oracle``.

    ``grade`` is the one-vs-one macro AUC of Hand & Till (``multi_class="ovo"``). A task whose
    true labels have a single class in this cohort gets ``None``.
    """
    idh = _binary_auc(oracle["idh"].astype(int).to_numpy(), oracle["oracle_p_idh_mutated"].to_numpy())
    codel = _binary_auc(
        oracle["codeletion"].astype(int).to_numpy(), oracle["oracle_p_1p19q_codeleted"].to_numpy()
    )
    grades = oracle["grade"].astype(int).to_numpy()
    if len(np.unique(grades)) == 3:
        probs = oracle[["oracle_p_grade_2", "oracle_p_grade_3", "oracle_p_grade_4"]].to_numpy()
        probs = probs / probs.sum(axis=1, keepdims=True)
        grade: float | None = float(
            roc_auc_score(grades, probs, multi_class="ovo", labels=[2, 3, 4])
        )
    else:
        grade = None
    out = {"IDH": idh, "1p19q": codel, "grade": grade}
    return {k: (None if v is None or math.isnan(v) else round(v, 6)) for k, v in out.items()}
