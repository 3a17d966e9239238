"""Figure helpers: flowchart steps and that every figure saves as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glioma.errors import InputError
from glioma.ingest.sheet import inclusion_summary
from glioma.plots.classification import confusion_figure
from glioma.plots.flowchart import flow_steps
from glioma.plots.segmentation import overlay_figure
from glioma.plots.style import format_p, save_png_pdf


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


def test_overlay_figure_names_its_colours_in_a_legend() -> None:
    mask = np.zeros((8, 8, 4), bool)
    mask[2:5, 2:5, 1:3] = True
    image = np.random.default_rng(0).random((8, 8, 4))
    fig = overlay_figure([{"title": "a", "image": image, "reference": mask, "prediction": mask},
                          {"title": "b", "image": image, "reference": None, "prediction": mask}])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["reference", "prediction"]
    assert [h.get_color() for h in legend.legend_handles] == ["lime", "red"]
    only_pred = overlay_figure([{"title": "b", "image": image, "reference": None, "prediction": mask}])
    assert [t.get_text() for t in only_pred.legends[0].get_texts()] == ["prediction"]


def test_format_p_never_prints_zero() -> None:
    assert format_p(1e-12) == "p < 0.001"
    assert format_p(0.0) == "p < 0.001"
    assert format_p(0.0042) == "p = 0.004"
    assert format_p(0.049) == "p = 0.049"
    assert format_p(0.5) == "p = 0.50"
    assert format_p(float("nan")) == "p = n/a"


def test_flowchart_adds_the_preprocessing_qc_exclusions(tmp_path: Path) -> None:
    """Fig. 2 goes on past ingest: the patients preprocessing QC excluded, by kind of reason
    (the InputError prefix and the numbers dropped), and the number analysed."""
    from glioma.evaluate.pipeline import write_flowchart
    from glioma.preprocess.qc import qc_inclusion_rows, short_reason

    reason = "patient '0014', file 'a/t1c.nii.gz': registration to the atlas failed QC: brain mask Dice 0.86 < 0.88"
    assert short_reason(reason) == "registration to the atlas failed QC"
    assert short_reason("no brain found") == "no brain found"
    qc = pd.DataFrame({"cohort": "c", "subject": ["1", "2", "3", "4"], "status": ["ok", "excluded", "ok", "excluded"],
                       "reason": ["", reason, "", reason.replace("0014", "0020")]})
    rows = qc_inclusion_rows(qc)
    assert rows.to_dict("records") == [
        {"cohort": "c", "stage": "preprocess", "reason": "included", "n": 4},
        {"cohort": "c", "stage": "preprocess", "reason": "registration to the atlas failed QC", "n": 2},
        {"cohort": "c", "stage": "analysed", "reason": "included", "n": 2}]
    summary = pd.DataFrame({"cohort": ["c", "c", "d"], "stage": ["discover", "ingest", "discover"],
                            "reason": ["found", "included", "found"], "n": [5, 4, 3]})
    summary.to_csv(tmp_path / "summary.tsv", sep="\t", index=False)
    qc.to_csv(tmp_path / "qc.tsv", sep="\t", index=False)
    steps = flow_steps(pd.concat([summary, rows], ignore_index=True))["c"]
    assert [(s["stage"], s["n"]) for s in steps] == [("discover", 5), ("ingest", 4), ("preprocess", 4), ("analysed", 2)]
    assert steps[2]["exclusions"] == [("registration to the atlas failed QC", 2)]
    write_flowchart(tmp_path / "summary.tsv", tmp_path / "flow.png", qc_tables=[tmp_path / "qc.tsv"])
    assert (tmp_path / "flow.pdf").stat().st_size > 0
    qc.drop(columns="status").to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="lacks columns.*status"):
        write_flowchart(tmp_path / "summary.tsv", tmp_path / "flow.png", qc_tables=[tmp_path / "bad.tsv"])
