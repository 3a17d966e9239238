"""Figure helpers: flowchart steps and that every figure saves as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from glioma.plots.classification import confusion_figure
from glioma.plots.flowchart import flow_steps
from glioma.plots.segmentation import overlay_figure
from glioma.plots.style import save_png_pdf


def test_flow_steps_fill_missing_counts() -> None:
    summary = pd.DataFrame({"cohort": ["a", "a", "a", "b"], "stage": ["found", "qc", "qc", "found"],
                            "reason": ["", "bad scan", "no T2", ""], "n": [10, 2, 1, 5]})
    steps = flow_steps(summary)
    assert [s["n"] for s in steps["a"]] == [10, 7]
    assert steps["a"][1]["exclusions"] == [("bad scan", 2), ("no T2", 1)]
    assert steps["b"][0]["n"] == 5


def test_figures_save_png_and_pdf(tmp_path: Path) -> None:
    cm = pd.DataFrame([[3, 1], [0, 2]], index=["wt", "mut"], columns=["wt", "mut"])
    png, pdf = save_png_pdf(confusion_figure(cm, "IDH"), tmp_path / "cm.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    mask = np.zeros((8, 8, 4), bool)
    mask[2:5, 2:5, 1:3] = True
    fig = overlay_figure([{"title": "x", "image": np.random.default_rng(0).random((8, 8, 4)),
                           "reference": mask, "prediction": None}])
    assert save_png_pdf(fig, tmp_path / "ov.png")[1].exists()
