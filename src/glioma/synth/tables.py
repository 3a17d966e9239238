"""Clinical tables in the column names and missing-value codes of the real sources.

* ``tcia_dicom``: a Ceccarelli-2016-Table-S1-like table (``Case``, ``Grade`` G2/G3/G4, ``Age``,
  ``Gender`` male/female, ``IDH status`` Mutant/WT, ``1p/19q codeletion`` codel/non-codel,
  ``Survival (months)``, ``Vital status (1=dead)``, missing ``NA``) plus ``Imaging timepoint``
  (preop/postop) and ``Tissue source site`` (institute); TSV or XLSX (sheet
  ``S1A. TCGA discovery dataset``, a title row above the header).
* ``brats_nifti``: ``name_mapping.csv`` (``Grade`` HGG/LGG, ``BraTS_2019_subject_ID``),
  ``survival_data.csv`` (``BraTS19ID``, ``Age``, ``Survival`` days, ``ResectionStatus``;
  deceased grade IV patients only, as in BraTS) and an Erasmus-Glioma-Database-style
  ``labels.csv`` (``Subject``, ``Sex`` M/F, ``Age``, ``WHO`` 2/3/4, ``IDH`` 1/0, ``1p19q`` 1/0,
  ``Institute``; unknown = ``-1``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from glioma.io.atomic import write_bytes, write_table

CECCARELLI_SHEET = "S1A. TCGA discovery dataset"
FIXED_TIME = dt.datetime(2015, 10, 20, 0, 0, 0)


def _na(value: Any, hidden: bool, code: str = "NA") -> Any:
    return code if hidden else value


def tcia_table(patients: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for p in patients:
        h = p["hidden"]
        idh, codel, grade = p["idh"], p["codeletion"], p["grade"]
        if grade == 4:
            histology = "glioblastoma"
        elif codel:
            histology = "oligodendroglioma"
        else:
            histology = "astrocytoma"
        if h["idh"] or (idh == 1 and h["codeletion"]):
            subtype = "NA"
        else:
            subtype = "IDHwt" if idh == 0 else ("IDHmut-codel" if codel else "IDHmut-non-codel")
        rows.append(
            {
                "Case": p["subject"],
                "Tissue source site": p["institute"],
                "Histology": _na(histology, h["grade"]),
                "Grade": _na(f"G{grade}", h["grade"]),
                "Age": _na(f"{round(p['age'])}", h["age"]),
                "Gender": _na("male" if p["sex"] == "M" else "female", h["sex"]),
                "Survival (months)": _na(f"{p['os_time_days'] / 30.4375:.2f}", h["survival"]),
                "Vital status (1=dead)": _na(str(p["os_event"]), h["survival"]),
                "IDH status": _na("Mutant" if idh else "WT", h["idh"]),
                "1p/19q codeletion": _na("codel" if codel else "non-codel", h["codeletion"]),
                "IDH/codel subtype": subtype,
                "Imaging timepoint": "postop" if p["postop"] else "preop",
            }
        )
    return pd.DataFrame(rows)


def _deterministic_xlsx(frame: pd.DataFrame, sheet: str, title: str) -> bytes:
    """XLSX with a title row above the header, without time stamps (checksums stay stable)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([title])
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append([str(v) for v in row])
    wb.properties.created = FIXED_TIME
    raw = io.BytesIO()
    wb.save(raw)
    # openpyxl stamps 'modified' with the current time and zip entries with the local time
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>2015-10-20T00:00:00Z\g<2>",
                    data,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=(2015, 10, 20, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, data)
    return out.getvalue()


def write_tcia_tables(out: Path, patients: list[dict[str, Any]], fmt: str) -> list[Path]:
    frame = tcia_table(patients)
    clinical = out / "clinical"
    if fmt == "xlsx":
        path = clinical / "TableS1.PatientData.xlsx"
        write_bytes(path, _deterministic_xlsx(frame, CECCARELLI_SHEET, "Table S1A: clinical data (synthetic)"))
    else:
        path = clinical / "clinical.tsv"
        write_table(path, frame)
    return [path]


def write_brats_tables(out: Path, patients: list[dict[str, Any]]) -> list[Path]:
    mapping = pd.DataFrame(
        {
            "Grade": ["HGG" if p["grade"] == 4 else "LGG" for p in patients],
            "BraTS_2017_subject_ID": ["NA"] * len(patients),
            "BraTS_2018_subject_ID": ["NA"] * len(patients),
            "TCGA_TCIA_subject_ID": ["NA"] * len(patients),
            "BraTS_2019_subject_ID": [p["subject"] for p in patients],
        }
    )
    survival_rows = []
    for p in patients:
        if p["grade"] == 4 and p["os_event"] == 1 and not p["hidden"]["survival"]:
            survival_rows.append(
                {
                    "BraTS19ID": p["subject"],
                    "Age": f"{p['age']:.3f}",
                    "Survival": str(round(p["os_time_days"])),
                    "ResectionStatus": p["resection"],
                }
            )
    survival = pd.DataFrame(survival_rows, columns=["BraTS19ID", "Age", "Survival", "ResectionStatus"])
    labels = pd.DataFrame(
        [
            {
                "Subject": p["subject"],
                "Sex": _na(p["sex"], p["hidden"]["sex"], "-1"),
                "Age": _na(f"{p['age']:.1f}", p["hidden"]["age"], "-1"),
                "WHO": _na(str(p["grade"]), p["hidden"]["grade"], "-1"),
                "IDH": _na(str(p["idh"]), p["hidden"]["idh"], "-1"),
                "1p19q": _na(str(p["codeletion"]), p["hidden"]["codeletion"], "-1"),
                "Institute": p["institute"],
            }
            for p in patients
        ]
    )
    paths = [out / "name_mapping.csv", out / "survival_data.csv", out / "labels.csv"]
    for path, frame in zip(paths, (mapping, survival, labels), strict=True):
        write_table(path, frame)
    return paths
