"""The TCGA cohort files read the real TCGA tables as they are (../shared/data/tcga-clinical), and
the unified labels agree with the paper's published test-set truth and the survival join."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from glioma.ingest.cohort import load_cohort
from glioma.io.tables import unify_labels

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def truth(shared_data):
    predictions = pd.read_csv(shared_data / "prognosais_supplementary" / "test_predictions.csv", dtype=str)
    survival = pd.read_csv(shared_data / "tcga-clinical" / "survival_240_merged.csv", dtype=str,
                           keep_default_na=False)
    return predictions, survival.set_index("Patient")


@pytest.fixture(scope="module")
def unified(truth, shared_data):
    predictions, _ = truth
    out = {}
    for name, collection in (("tcga_lgg", "TCGA-LGG"), ("tcga_gbm", "TCGA-GBM")):
        cohort = load_cohort(REPO / "config" / "cohorts" / f"{name}.yaml")
        for spec in cohort.label_tables:  # the cohort files point at ../shared/data as it is
            assert spec.path.resolve().parent == (shared_data / "tcga-clinical").resolve()
        patients = predictions.loc[predictions["Data_collection"] == collection, "Patient"].tolist()
        result = unify_labels(cohort.label_tables, patients, cohort=name)
        assert result.problems == {}, result.problems
        out.update(result.labels)
    return out


def test_every_test_patient_is_covered(truth, unified):
    predictions, _ = truth
    assert len(predictions) == 240 and set(unified) == set(predictions["Patient"])


@pytest.mark.parametrize(("column", "published"), [("idh", "IDH_mutated"), ("codeletion", "1p19q_codeleted"),
                                                   ("grade", "Grade")])
def test_molecular_labels_and_grade_agree(truth, unified, column, published):
    predictions, _ = truth
    compared = 0
    for row in predictions.itertuples(index=False):
        expected = row[list(predictions.columns).index(published)]
        ours = unified[row.Patient][column]
        if expected != "-1" and ours is not None:
            assert ours == int(expected), (row.Patient, column, ours, expected)
            compared += 1
        if expected != "-1":
            assert ours is not None or row.Patient == "TCGA-EZ-7265A", (row.Patient, column)
    assert compared > 150


def test_overall_survival_agrees_including_barcode_quirks(truth, unified):
    _, survival = truth
    compared = 0
    for patient, row in survival.iterrows():
        ours = unified[patient]
        if row["os_event_best"] == "":
            assert patient in ("TCGA-12-1601", "TCGA-EZ-7265A")
            continue
        assert ours["os_event"] == int(row["os_event_best"]), patient
        assert ours["os_time_days"] == pytest.approx(float(row["os_time_days_best"])), patient
        compared += 1
    assert compared == 238
    # TCGA-HT_A614 (underscore in the published file) is matched to TCGA-HT-A614 in both tables
    assert unified["TCGA-HT_A614"]["os_time_days"] == 82 and unified["TCGA-HT_A614"]["grade"] == 2
    assert unified["TCGA-EZ-7265A"]["os_event"] is None  # not in either table: stays unknown
