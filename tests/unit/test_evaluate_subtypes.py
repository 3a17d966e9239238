"""WHO 2016 / 2021 subtypes, confusion matrices and per-subtype performance."""

from __future__ import annotations

import pandas as pd
import pytest

from glioma.evaluate.subtypes import (
    IMPOSSIBLE,
    add_subtypes,
    confusion_matrix,
    subtype_performance,
    who2016,
    who2021,
)

NA = pd.NA


@pytest.mark.parametrize(
    ("idh", "codel", "grade", "w16", "w21"),
    [
        (1, 1, 2, "oligodendroglioma", "oligodendroglioma, IDH-mutant and 1p/19q-codeleted"),
        (1, 1, NA, "oligodendroglioma", "oligodendroglioma, IDH-mutant and 1p/19q-codeleted"),
        (1, 0, 3, "astrocytoma IDH-mutated", "astrocytoma, IDH-mutant, CNS WHO grade 3"),
        (1, 0, 4, "glioblastoma IDH-mutated", "astrocytoma, IDH-mutant, CNS WHO grade 4"),
        (0, 0, 2, "astrocytoma IDH-wildtype", "glioblastoma, IDH-wildtype"),
        (0, NA, 4, "glioblastoma IDH-wildtype", "glioblastoma, IDH-wildtype"),
        (0, 1, 3, IMPOSSIBLE, IMPOSSIBLE),
        (1, NA, 2, None, None),
        (NA, 0, 4, None, None),
        (1, 0, NA, None, None),
    ],
)
def test_subtype_rules(idh, codel, grade, w16, w21) -> None:
    assert who2016(idh, codel, grade) == w16
    assert who2021(idh, codel, grade) == w21


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cohort": "x",
            "subject": ["a", "b", "c", "d"],
            "idh": pd.array([1, 0, 0, pd.NA], dtype="Int64"),
            "codeletion": pd.array([1, 0, 0, 0], dtype="Int64"),
            "grade": pd.array([2, 4, 3, 4], dtype="Int64"),
            "score_idh_wildtype": [0.1, 0.9, 0.8, 0.9],
            "score_idh_mutated": [0.9, 0.1, 0.2, 0.1],
            "score_1p19q_intact": [0.7, 0.9, 0.2, 0.9],  # a predicted intact, c predicted co-deleted
            "score_1p19q_codeleted": [0.3, 0.1, 0.8, 0.1],
            "score_grade_2": [0.6, 0.1, 0.2, 0.1],
            "score_grade_3": [0.3, 0.1, 0.7, 0.1],
            "score_grade_4": [0.1, 0.8, 0.1, 0.8],
        }
    )


def test_confusion_and_performance() -> None:
    f = add_subtypes(_frame())
    assert f.loc[0, "who2016_pred"] == "astrocytoma IDH-mutated"
    assert f.loc[2, "who2016_pred"] == IMPOSSIBLE
    cm = confusion_matrix(f, "who2016")
    assert cm.to_numpy().sum() == 3  # d: unknown IDH -> unknown subtype, left out
    assert cm.loc["oligodendroglioma", "astrocytoma IDH-mutated"] == 1
    assert cm.loc["astrocytoma IDH-wildtype", IMPOSSIBLE] == 1
    idh = confusion_matrix(f, "idh")
    assert idh.to_numpy().tolist() == [[2, 0], [0, 1]]
    perf = subtype_performance(f).set_index(["classification", "subtype"])
    gbm = perf.loc[("who2016", "glioblastoma IDH-wildtype")]
    assert (gbm["n_true"], gbm["n_predicted"], gbm["n_correct"]) == (1, 1, 1)
    assert perf.loc[("who2016", "all (accuracy)"), "sensitivity"] == pytest.approx(1 / 3)
