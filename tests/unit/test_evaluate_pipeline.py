"""The workflow steps end to end on a small synthetic cohort built here (our schemas)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from glioma import schema
from glioma.cli import main
from glioma.evaluate import pipeline
from glioma.evaluate.tables import table1

N = 24


def _cohort(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    subjects = [f"{i:03d}" for i in range(N)]
    idh = rng.integers(0, 2, N)
    codel = np.where(idh == 1, rng.integers(0, 2, N), 0)
    grade = rng.choice([2, 3, 4], N)
    pred = pd.DataFrame({"cohort": "demo_test", "subject": subjects,
                         "idh": idh.astype(str), "codeletion": codel.astype(str), "grade": grade.astype(str)})
    pred.loc[3, "idh"] = ""
    p_mut = np.clip(0.6 * idh + 0.4 * rng.random(N), 0, 1)
    p_cod = np.clip(0.5 * codel + 0.5 * rng.random(N), 0, 1)
    g = rng.random((N, 3)) + np.eye(3)[grade - 2]
    g /= g.sum(axis=1, keepdims=True)
    pred["score_idh_wildtype"], pred["score_idh_mutated"] = 1 - p_mut, p_mut
    pred["score_1p19q_intact"], pred["score_1p19q_codeleted"] = 1 - p_cod, p_cod
    pred["score_grade_2"], pred["score_grade_3"], pred["score_grade_4"] = g.T
    paths = {"predictions": tmp_path / "infer" / "demo_test" / "predictions.csv"}
    paths["predictions"].parent.mkdir(parents=True)
    pred.to_csv(paths["predictions"], index=False)

    sheet = pd.DataFrame({c: "" for c in schema.SUBJECT_SHEET_COLUMNS}, index=range(N))
    sheet["cohort"], sheet["subject"], sheet["included"] = "demo_test", subjects, "1"
    sheet.loc[0, "included"] = "0"
    sheet["idh"], sheet["codeletion"], sheet["grade"] = pred["idh"], pred["codeletion"], pred["grade"]
    sheet["age"] = rng.integers(20, 80, N).astype(str)
    sheet["sex"] = rng.choice(["M", "F"], N)
    sheet["os_time_days"] = rng.exponential(800, N).round(1).astype(str)
    sheet["os_event"] = rng.integers(0, 2, N).astype(str)
    sheet["segmentation"] = "manual"
    paths["subjects"] = tmp_path / "ingest" / "demo_test" / "subjects.tsv"
    paths["subjects"].parent.mkdir(parents=True)
    sheet.to_csv(paths["subjects"], sep="\t", index=False)

    for s in subjects[:6]:
        ref = np.zeros((20, 20, 12), np.uint8)
        ref[5:12, 6:13, 3:8] = 1
        predm = np.roll(ref, int(s) % 3, axis=0)
        img = rng.normal(size=ref.shape).astype(np.float32)
        for folder, files in ((tmp_path / "preprocess", {"seg.nii.gz": ref, "t1c.nii.gz": img}),
                              (tmp_path / "infer", {"seg.nii.gz": predm})):
            (folder / "demo_test" / s).mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), folder / "demo_test" / s / name)
    paths["summary"] = tmp_path / "inclusion_summary.tsv"
    pd.DataFrame({"cohort": ["demo_test"] * 4, "stage": ["discovered", "conversion", "conversion", "included"],
                  "reason": ["", "missing FLAIR", "postoperative", ""], "n": [30, 4, 2, 24]}).to_csv(
        paths["summary"], sep="\t", index=False)
    return paths


def test_pipeline_steps(tmp_path: Path) -> None:
    p = _cohort(tmp_path)
    out = tmp_path / "out"
    t2 = pipeline.write_table2(p["predictions"], out / "table2.csv", out / "t2f.csv", out / "roc.png", n_resamples=200)
    assert (out / "roc.pdf").stat().st_size > 0 and t2.loc[0, "n"] == N - 1
    written = pipeline.write_subtypes(p["predictions"], out)
    assert len(pd.read_csv(written["appendix_e"], dtype={"subject": str})) == N
    assert (out / "confusion_who2021.png").exists()
    lr = pipeline.write_survival(p["predictions"], out / "lr.csv", out / "km.png", subject_sheets=[p["subjects"]])
    assert lr["n_truth"].sum() > 0 and (out / "km.pdf").exists()
    seg = pipeline.write_segmentation("demo_test", p["predictions"], tmp_path / "preprocess" / "demo_test",
                                      tmp_path / "infer" / "demo_test", out / "seg.tsv", out / "box.png")
    assert (seg["status"] == "ok").sum() == 6 and seg["status"].str.startswith("excluded").sum() == N - 6
    assert seg.loc[seg["subject"] == "000", "dice"].item() == 1.0
    chosen = pipeline.write_overlays("demo_test", p["predictions"], tmp_path / "preprocess" / "demo_test",
                                     tmp_path / "infer" / "demo_test", out / "overlays.png", n_patients=5, seed=1)
    assert len(chosen) == 5 and (out / "overlays.pdf").exists()
    pipeline.write_flowchart(p["summary"], out / "flow.png")
    assert (out / "flow.pdf").stat().st_size > 0


def test_table1(tmp_path: Path) -> None:
    p = _cohort(tmp_path)
    t = table1([(p["subjects"], "test")]).set_index(["characteristic", "category"])
    assert t.loc[("patients", "N"), "test_n"] == N - 1  # one patient excluded
    for name in ("sex", "age", "IDH", "1p/19q", "grade", "WHO 2016 subtype", "segmentation"):
        assert t.loc[name, "test_n"].sum() == N - 1, name
    assert t.loc[("IDH", "unknown"), "test_n"] == 1
    assert t.loc[("segmentation", "manual"), "test_pct"] == pytest.approx(100.0)


def test_cli(tmp_path: Path) -> None:
    p = _cohort(tmp_path)
    out = tmp_path / "cli"
    rc = main(["evaluate", "--predictions", str(p["predictions"]), "--out", str(out), "--n-resamples", "200",
               "--subjects", str(p["subjects"])])
    assert rc == 0
    table = pd.read_csv(out / "table2.csv")
    assert table.columns.tolist() == ["group", "task", "n", "auc", "auc_ci_low", "auc_ci_high",
                                      "accuracy", "sensitivity", "specificity"]
    assert set(table["group"]) == {"all", "LGG", "HGG"}
    assert (out / "survival_logrank.csv").exists()
    assert main(["evaluate", "--predictions", str(tmp_path / "nope.csv"), "--out", str(out)]) == 1
