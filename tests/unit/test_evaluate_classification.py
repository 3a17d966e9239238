"""Table 2 logic on a small hand-made cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glioma.evaluate.classification import (
    TABLE2_COLUMNS,
    compute_table2,
    decision_metrics,
    task_data,
)


def _frame() -> pd.DataFrame:
    # subject, idh, codel, grade, p(idh mut), p(codel), p2, p3, p4
    rows = [
        ("a", 1, 1, 2, 0.9, 0.8, 0.7, 0.2, 0.1),
        ("b", 1, 0, 3, 0.6, 0.3, 0.3, 0.5, 0.2),
        ("c", 0, 0, 4, 0.2, 0.1, 0.1, 0.2, 0.7),
        ("d", 0, 0, 4, 0.7, 0.2, 0.2, 0.2, 0.6),
        ("e", None, 0, 3, 0.4, 0.6, 0.2, 0.3, 0.5),
        ("f", 1, None, None, 0.3, 0.4, 0.5, 0.3, 0.2),
        ("g", 0, 1, 2, 0.1, 0.7, 0.6, 0.3, 0.1),
        ("h", 1, 0, 4, 0.8, 0.2, 0.1, 0.1, 0.8),
    ]
    f = pd.DataFrame(rows, columns=["subject", "idh", "codeletion", "grade", "mut", "codel", "s2", "s3", "s4"])
    out = pd.DataFrame({"cohort": "x", "subject": f["subject"]})
    for c in ("idh", "codeletion", "grade"):
        out[c] = f[c].astype("Int64")
    out["score_idh_wildtype"] = 1 - f["mut"]
    out["score_idh_mutated"] = f["mut"]
    out["score_1p19q_intact"] = 1 - f["codel"]
    out["score_1p19q_codeleted"] = f["codel"]
    out["score_grade_2"], out["score_grade_3"], out["score_grade_4"] = f["s2"], f["s3"], f["s4"]
    return out


def test_unknown_labels_leave_only_their_task() -> None:
    frame = _frame()
    assert task_data(frame, "all", "IDH").y.size == 7  # e unknown
    assert task_data(frame, "all", "1p19q").y.size == 7  # f unknown
    assert task_data(frame, "all", "grade").y.size == 7  # f unknown
    lgg = task_data(frame, "LGG", "IDH")
    assert sorted(lgg.subjects) == ["a", "b", "g"]  # e (IDH unknown) and f (grade unknown) out


def test_decisions_and_lgg_vs_hgg() -> None:
    frame = _frame()
    t = task_data(frame, "all", "LGG_vs_HGG")
    # positive = LGG; decision LGG when p2 + p3 > p4
    assert dict(zip(t.subjects, t.y, strict=True))["c"] == 0
    assert dict(zip(t.subjects, t.decision, strict=True)) == {"a": 1, "b": 1, "c": 0, "d": 0, "e": 0, "g": 1, "h": 0}
    m = decision_metrics(t.y, t.decision)
    assert m["sensitivity"] == pytest.approx(3 / 4) and m["specificity"] == 1.0 and m["accuracy"] == pytest.approx(6 / 7)


def test_table2_shape_and_values() -> None:
    table = compute_table2(_frame(), n_resamples=200, seed=0)
    assert tuple(table.columns) == TABLE2_COLUMNS
    assert len(table) == 10
    idh = table.iloc[0]
    # IDH: truth a1 b1 c0 d0 f1 g0 h1, p(mut) .9 .6 .2 .7 .3 .1 .8 -> AUC = 10/12
    assert idh["n"] == 7 and idh["auc"] == pytest.approx(10 / 12)
    grade = table.iloc[2]
    assert np.isnan(grade["sensitivity"]) and not np.isnan(grade["auc"])
    hgg = table.iloc[9]  # HGG IDH: c0 d0 h1 -> defined
    assert hgg["n"] == 3
