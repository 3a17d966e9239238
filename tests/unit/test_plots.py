"""Figure helpers: flowchart steps and that every figure saves as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from glioma.ingest.sheet import inclusion_summary
from glioma.plots.classification import confusion_figure
from glioma.plots.flowchart import flow_steps
from glioma.plots.segmentation import overlay_figure
from glioma.plots.style import save_png_pdf


def test_flow_steps_fill_missing_counts() -> None:
    summary = pd.DataFrame({"cohort": ["a", "a", "a", "a", "b"], "stage": ["found", "qc", "qc", "end", "found"],
                            "reason": ["", "bad scan", "no T2", "", ""], "n": [10, 2, 1, 7, 5]})
    steps = flow_steps(summary)
    assert [s["n"] for s in steps["a"]] == [10, 10, 7]  # qc: reached by all 10, 3 excluded there
    assert steps["a"][1]["exclusions"] == [("bad scan", 2), ("no T2", 1)]
    assert steps["b"][0]["n"] == 5
    no_end = flow_steps(summary[summary["stage"] != "end"])
    assert [s["n"] for s in no_end["a"]] == [10, 10]


def test_flow_steps_read_the_ingest_inclusion_summary(tmp_path: Path) -> None:
    """The flowchart reads what ingest writes: its count rows (found, included) are counts, not
    exclusions, and the stage between them is the found count minus the discovery exclusions."""
    sheet = tmp_path / "subjects.tsv"
    excl = tmp_path / "exclusions.tsv"
    pd.DataFrame({"subject": [f"P{i}" for i in range(6)], "included": ["1"] * 5 + ["0"]}).to_csv(sheet, sep="\t", index=False)
    pd.DataFrame({"cohort": "c", "subject": ["X1", "X2", "X3"], "raw_name": ["X1", "X2", "X3"],
                  "stage": ["discover", "discover", "subject"], "reason": ["postoperative", "postoperative", "missing_sequence"],
                  "detail": ""}).to_csv(excl, sep="\t", index=False)
    steps = flow_steps(inclusion_summary([("c", sheet, excl)]))["c"]
    assert [(s["stage"], s["n"]) for s in steps] == [("discover", 8), ("subject", 6), ("ingest", 5)]
    assert steps[0]["exclusions"] == [("postoperative", 2)]
    assert steps[1]["exclusions"] == [("missing_sequence", 1)]
    assert steps[2]["exclusions"] == []


def test_figures_save_png_and_pdf(tmp_path: Path) -> None:
    cm = pd.DataFrame([[3, 1], [0, 2]], index=["wt", "mut"], columns=["wt", "mut"])
    png, pdf = save_png_pdf(confusion_figure(cm, "IDH"), tmp_path / "cm.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    mask = np.zeros((8, 8, 4), bool)
    mask[2:5, 2:5, 1:3] = True
    fig = overlay_figure([{"title": "x", "image": np.random.default_rng(0).random((8, 8, 4)),
                           "reference": mask, "prediction": None}])
    assert save_png_pdf(fig, tmp_path / "ov.png")[1].exists()
