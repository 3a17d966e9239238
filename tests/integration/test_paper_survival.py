"""Real TCGA overall survival for the paper's 240 test patients, read from the original TCGA-CDR
table, cross-checked against the convenience join survival_240_merged.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from glioma.evaluate.predictions import read_predictions
from glioma.evaluate.subtypes import add_subtypes
from glioma.evaluate.survival import attach_survival, read_cdr_survival, survival_comparison

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.realdata


def test_cdr_survival_matches_merged_table_and_logrank_runs() -> None:
    frame = add_subtypes(read_predictions(DATA / "prognosais_supplementary" / "test_predictions.csv"))
    cdr = read_cdr_survival(DATA / "tcga-clinical" / "TCGA-CDR-SupplementalTableS1.xlsx")
    merged = attach_survival(frame, cdr, tcga=True)
    assert len(merged) == 240
    missing = sorted(merged.loc[merged["os_time_days"].isna(), "subject"])
    assert missing == ["TCGA-12-1601", "TCGA-EZ-7265A"]
    check = pd.read_csv(DATA / "tcga-clinical" / "survival_240_merged.csv", dtype=str).set_index("Patient")
    both = merged.set_index("subject").join(check[["cdr_OS", "cdr_OS_time_days"]], how="inner")
    assert len(both) == 240
    known = both["os_time_days"].notna()
    assert (both.loc[known, "os_time_days"] == pd.to_numeric(both.loc[known, "cdr_OS_time_days"])).all()
    assert (both.loc[known, "os_event"].astype(int) == both.loc[known, "cdr_OS"].astype(int)).all()
    table = survival_comparison(merged).set_index("subtype")
    gbm = table.loc["glioblastoma IDH-wildtype"]
    assert gbm["n_truth"] > 100 and 0.0 <= gbm["p_value"] <= 1.0
    # IDH-wildtype glioblastoma has the worst prognosis, oligodendroglioma the best
    assert gbm["median_os_days_truth"] < table.loc["oligodendroglioma", "median_os_days_truth"]
