"""The synthetic label model: joint distribution constraints and the oracle posterior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glioma.synth.labels import (
    CLASSES,
    DEFAULT_CLASS_PRIOR,
    class_posterior,
    label_posterior,
    sample_patient,
)
from glioma.synth.oracle import oracle_aucs


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    rng = np.random.default_rng(123)
    rows = []
    for _ in range(3000):
        p = sample_patient(rng)
        row = {"idh": p.idh, "codeletion": p.codeletion, "grade": p.grade, "age": p.age,
               "os_time_days": p.os_time_days, "os_event": p.os_event, "sex": p.sex}
        row.update(label_posterior(p.latents))
        rows.append(row)
    return pd.DataFrame(rows)


def test_never_codeleted_when_idh_wildtype(population):
    assert not ((population["idh"] == 0) & (population["codeletion"] == 1)).any()
    assert not ((population["codeletion"] == 1) & (population["grade"] == 4)).any()


def test_grade_frequencies_follow_prior(population):
    prior = np.asarray(DEFAULT_CLASS_PRIOR)
    grades = np.asarray([c[2] for c in CLASSES])
    for g in (2, 3, 4):
        expected = prior[grades == g].sum()
        assert abs((population["grade"] == g).mean() - expected) < 0.03


def test_clinical_patterns(population):
    gbm = population[(population["grade"] == 4) & (population["idh"] == 0)]
    lgg_mut = population[(population["grade"] < 4) & (population["idh"] == 1)]
    assert gbm["age"].mean() > lgg_mut["age"].mean() + 10
    assert gbm["os_time_days"].median() < lgg_mut["os_time_days"].median()
    assert set(population["os_event"]) == {0, 1}


def test_posteriors_are_probabilities(population):
    grade_sum = population[["oracle_p_grade_2", "oracle_p_grade_3", "oracle_p_grade_4"]].sum(axis=1)
    assert np.allclose(grade_sum, 1.0)
    assert (population["oracle_p_1p19q_codeleted"] <= population["oracle_p_idh_mutated"] + 1e-12).all()
    post = class_posterior({"enhancing": 1, "necrosis": 1, "mismatch": 0, "calcified": 0, "frontal": 0,
                            "log_volume": 3.3, "log_edema": -0.5})
    assert post.argmax() == 2  # enhancing necrotic large tumour: glioblastoma IDH-wildtype


def test_oracle_aucs_high_but_not_perfect(population):
    aucs = oracle_aucs(population)
    assert 0.82 < aucs["IDH"] < 0.97
    assert 0.75 < aucs["1p19q"] < 0.95
    assert 0.72 < aucs["grade"] < 0.92


def test_oracle_auc_none_for_single_class():
    frame = pd.DataFrame({"idh": [1, 1], "codeletion": [0, 1], "grade": [2, 3],
                          "oracle_p_idh_mutated": [0.2, 0.9], "oracle_p_1p19q_codeleted": [0.1, 0.8],
                          "oracle_p_grade_2": [0.5, 0.2], "oracle_p_grade_3": [0.3, 0.5],
                          "oracle_p_grade_4": [0.2, 0.3]})
    aucs = oracle_aucs(frame)
    assert aucs["IDH"] is None and aucs["grade"] is None and aucs["1p19q"] == 1.0
