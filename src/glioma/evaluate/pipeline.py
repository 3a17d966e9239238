"""One function per workflow step: read inputs, compute, write tables and figures atomically.

Each is called by one adapter in ``workflow/scripts/evaluate_*.py`` (and by ``glioma evaluate``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glioma import schema
from glioma.errors import InputError
from glioma.evaluate.classification import all_task_data, compute_table2, format_table2
from glioma.evaluate.predictions import read_predictions
from glioma.evaluate.segmentation import cohort_segmentation_metrics, load_mask
from glioma.evaluate.subtypes import (
    add_subtypes,
    confusion_matrix,
    per_patient_table,
    subtype_performance,
)
from glioma.evaluate.survival import attach_survival, read_cdr_survival, survival_comparison
from glioma.evaluate.tables import read_subject_sheet, table1
from glioma.evaluate.targets import CONFUSION_NAMES
from glioma.io.atomic import write_table

log = logging.getLogger(__name__)


CONFUSION_TITLES = {"idh": "IDH", "1p19q": "1p/19q", "grade": "Grade", "who2016": "WHO 2016 subtype", "who2021": "WHO 2021 subtype (simplified)"}


def write_table2(predictions: str | Path, table2_csv: str | Path, table2_formatted_csv: str | Path, roc_png: str | Path,
                 *, n_resamples: int = 2500, seed: int = 42, ci_method: str = "percentile") -> pd.DataFrame:
    """Table 2 (raw and as printed in the paper) and Fig. 3 ROC curves (PNG + PDF next to it)."""
    from glioma.plots.classification import roc_figure
    from glioma.plots.style import save_png_pdf

    frame = read_predictions(predictions)
    table = compute_table2(frame, n_resamples=n_resamples, seed=seed, ci_method=ci_method)
    write_table(table2_csv, table)
    write_table(table2_formatted_csv, format_table2(table))
    aucs = {(g, t): a for g, t, a in zip(table["group"], table["task"], table["auc"], strict=True)}
    save_png_pdf(roc_figure(all_task_data(frame), aucs), roc_png)
    log.info("Table 2 of %d patients written to %s", len(frame), table2_csv)
    return table


def write_subtypes(predictions: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Confusion matrices (CSV + PNG + PDF), per-subtype performance and Appendix E in ``out_dir``.

    Files: ``confusion_<name>.{csv,png,pdf}`` for idh, 1p19q, grade, who2016, who2021;
    ``subtype_performance.csv``; ``appendix_e_predictions.csv``.
    """
    from glioma.plots.classification import confusion_figure
    from glioma.plots.style import save_png_pdf

    out_dir = Path(out_dir)
    frame = add_subtypes(read_predictions(predictions))
    written: dict[str, Path] = {}
    for name in CONFUSION_NAMES:
        cm = confusion_matrix(frame, name)
        written[f"confusion_{name}"] = write_table(out_dir / f"confusion_{name}.csv", cm, index=True)
        save_png_pdf(confusion_figure(cm, CONFUSION_TITLES[name]), out_dir / f"confusion_{name}.png")
    written["subtype_performance"] = write_table(out_dir / "subtype_performance.csv", subtype_performance(frame))
    written["appendix_e"] = write_table(out_dir / "appendix_e_predictions.csv", per_patient_table(read_predictions(predictions)))
    impossible = int((frame["who2016_pred"] == "impossible (IDH-wildtype, 1p/19q co-deleted)").sum())
    log.info("subtypes written to %s (%d impossible predicted combinations)", out_dir, impossible)
    return written


def write_survival(predictions: str | Path, logrank_csv: str | Path, km_png: str | Path, *,
                   cdr_xlsx: str | Path | None = None, subject_sheets: Sequence[str | Path] = ()) -> pd.DataFrame:
    """Appendix G: KM curves by true vs predicted WHO 2016 subtype with log-rank tests.

    Survival from the TCGA-CDR table (``cdr_xlsx``, matched on the TCGA barcode) or from subject
    sheets (``os_time_days`` / ``os_event``, matched on cohort and subject).
    """
    from glioma.plots.style import save_png_pdf
    from glioma.plots.survival import km_figure

    frame = add_subtypes(read_predictions(predictions))
    if cdr_xlsx is not None:
        frame = attach_survival(frame, read_cdr_survival(cdr_xlsx), tcga=True)
    elif subject_sheets:
        sheets = pd.concat([read_subject_sheet(p) for p in subject_sheets], ignore_index=True)
        frame = attach_survival(frame, sheets, tcga=False)
    else:
        raise InputError("no survival source: give the TCGA-CDR table or subject sheets")
    table = survival_comparison(frame)
    write_table(logrank_csv, table)
    save_png_pdf(km_figure(frame, table), km_png)
    return table


def infer_pairs(subjects: Sequence[str], reference_dir: str | Path, prediction_dir: str | Path,
                filename: str = schema.PREPROCESS_FILES["seg"]) -> dict[str, tuple[Path, Path]]:
    """subject -> (``<reference_dir>/<subject>/seg.nii.gz``, ``<prediction_dir>/<subject>/seg.nii.gz``)."""
    return {s: (Path(reference_dir) / s / filename, Path(prediction_dir) / s / filename) for s in subjects}


def write_segmentation(cohort: str, predictions: str | Path, reference_dir: str | Path, prediction_dir: str | Path,
                       metrics_tsv: str | Path, boxplot_png: str | Path) -> pd.DataFrame:
    """Per-patient segmentation metrics of the patients in ``predictions`` and Fig. 4."""
    from glioma.plots.segmentation import metrics_boxplot
    from glioma.plots.style import save_png_pdf

    frame = read_predictions(predictions)
    subjects = frame.loc[frame["cohort"] == cohort, "subject"].tolist() or frame["subject"].tolist()
    table = cohort_segmentation_metrics(cohort, infer_pairs(subjects, reference_dir, prediction_dir))
    write_table(metrics_tsv, table)
    save_png_pdf(metrics_boxplot(table), boxplot_png)
    return table


def write_overlays(cohort: str, predictions: str | Path, image_dir: str | Path, prediction_dir: str | Path,
                   overlay_png: str | Path, *, n_patients: int = 5, seed: int = 42, sequence: str = "t1c") -> list[str]:
    """Appendix F: the segmentation over ``sequence`` for ``n_patients`` random patients (seeded)."""
    import nibabel as nib

    from glioma.plots.segmentation import overlay_figure
    from glioma.plots.style import save_png_pdf

    frame = read_predictions(predictions)
    subjects = sorted(frame["subject"].tolist())
    chosen = sorted(random.Random(seed).sample(subjects, min(n_patients, len(subjects))))
    cases = []
    for s in chosen:
        image_path = Path(image_dir) / s / schema.PREPROCESS_FILES[sequence]
        try:
            image = np.asanyarray(nib.load(str(image_path)).dataobj).astype(np.float32)
        except Exception as err:  # noqa: BLE001 - a missing image is reported, not fatal
            log.warning("overlay: patient %s: cannot read %s: %s", s, image_path, err)
            continue
        masks = {}
        for key, folder in (("reference", image_dir), ("prediction", prediction_dir)):
            try:
                masks[key] = load_mask(Path(folder) / s / schema.PREPROCESS_FILES["seg"], subject=s)[0]
            except InputError as err:
                log.info("overlay: %s", err)
                masks[key] = None
        cases.append({"title": f"{cohort} {s}", "image": image, **masks})
    save_png_pdf(overlay_figure(cases), overlay_png)
    return chosen


def write_table1(sheets: Sequence[str | Path], roles: Sequence[str], table1_csv: str | Path) -> pd.DataFrame:
    """Table 1 from subject sheets and their set (``train`` / ``test``)."""
    table = table1(list(zip(sheets, roles, strict=True)))
    write_table(table1_csv, table)
    return table


def write_flowchart(inclusion_summary: str | Path, flowchart_png: str | Path,
                    qc_tables: Sequence[str | Path] = ()) -> None:
    """Fig. 2 from ``results/ingest/inclusion_summary.tsv`` and, where given, each cohort's
    preprocessing ``qc.tsv``: patients excluded by preprocessing QC and the number analysed."""
    from glioma.plots.flowchart import flowchart_figure
    from glioma.plots.style import save_png_pdf
    from glioma.preprocess.qc import QC_COLUMNS, qc_inclusion_rows

    path = Path(inclusion_summary)
    if not path.is_file():
        raise InputError("inclusion summary is missing", path=path)
    summary = pd.read_csv(path, sep="\t", dtype={"cohort": str, "stage": str, "reason": str}, keep_default_na=False)
    missing = [c for c in schema.INCLUSION_SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise InputError(f"inclusion summary lacks columns {missing}", path=path)
    qc_parts = []
    for qc in qc_tables:
        table = pd.read_csv(qc, sep="\t", dtype=str, keep_default_na=False)
        lacking = [c for c in ("cohort", "status", "reason") if c not in table.columns]
        if lacking:
            raise InputError(f"preprocessing QC table lacks columns {lacking} (expected {list(QC_COLUMNS)})", path=qc)
        qc_parts.append(qc_inclusion_rows(table))
    if qc_parts:
        summary = pd.concat([summary, *qc_parts], ignore_index=True)
        order = {c: i for i, c in enumerate(dict.fromkeys(summary["cohort"]))}
        summary = summary.sort_values("cohort", key=lambda s: s.map(order), kind="stable")
    save_png_pdf(flowchart_figure(summary), flowchart_png)
