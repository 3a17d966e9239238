"""Survival comparison by true vs predicted subtype (lifelines)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test

from glioma.evaluate.survival import attach_survival, barcode12, survival_comparison


def test_barcode12() -> None:
    assert barcode12("TCGA-HT_A614") == "TCGA-HT-A614"
    assert barcode12("TCGA-EZ-7265A") == "TCGA-EZ-7265"
    assert barcode12("007") == "007"


def test_comparison_and_attach() -> None:
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame({
        "cohort": "demo",
        "subject": [f"{i:03d}" for i in range(n)],
        "who2016_true": ["glioblastoma IDH-wildtype"] * 20 + ["oligodendroglioma"] * 20,
        "who2016_pred": ["glioblastoma IDH-wildtype"] * 25 + ["oligodendroglioma"] * 15,
    })
    sheet = pd.DataFrame({
        "cohort": "demo",
        "subject": frame["subject"],
        "os_time_days": np.r_[rng.exponential(400, 20), rng.exponential(3000, 20)].round(1).astype(str),
        "os_event": ["1"] * 30 + ["0"] * 9 + [""],
    })
    f = attach_survival(frame, sheet, tcga=False)
    assert f["os_event"].isna().sum() == 1
    table = survival_comparison(f).set_index("subtype")
    gbm = table.loc["glioblastoma IDH-wildtype"]
    assert (gbm["n_truth"], gbm["n_predicted"], gbm["n_both"]) == (20, 25, 20)
    g = f.dropna(subset=["os_event"])
    a = g[g["who2016_true"] == "glioblastoma IDH-wildtype"]
    b = g[g["who2016_pred"] == "glioblastoma IDH-wildtype"]
    ref = logrank_test(a["os_time_days"], b["os_time_days"], a["os_event"].astype(int), b["os_event"].astype(int))
    assert gbm["p_value"] == pytest.approx(ref.p_value)
    oligo = table.loc["oligodendroglioma"]
    assert oligo["n_truth"] == 19  # the patient without an event status is left out
    assert np.isnan(table.loc["glioblastoma IDH-mutated", "p_value"])
