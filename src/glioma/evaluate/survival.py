"""Overall survival by ground-truth versus predicted WHO 2016 subtype (the paper's Appendix G).

For every subtype the patients whose *true* subtype it is and the patients *predicted* as it form
two groups (a patient can be in both); their Kaplan-Meier curves are compared with a log-rank
test. If the predictions capture the prognostic information of the true subtype, the two curves
agree (large p-value). Real TCGA overall survival comes from the TCGA Pan-Cancer Clinical Data
Resource (Liu et al. 2018, sheet ``TCGA-CDR``: ``OS`` 1 = death, ``OS.time`` days).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from glioma.errors import InputError
from glioma.evaluate.subtypes import WHO2016_CLASSES

log = logging.getLogger(__name__)

CDR_MISSING = ("#N/A", "[Not Available]", "[Not Applicable]", "[Unknown]", "[Discrepancy]", "NA", "")

SURVIVAL_COLUMNS: tuple[str, ...] = (
    "subtype",
    "n_truth",
    "events_truth",
    "median_os_days_truth",
    "n_predicted",
    "events_predicted",
    "median_os_days_predicted",
    "n_both",
    "logrank_statistic",
    "p_value",
)


def barcode12(patient: str) -> str:
    """TCGA patient barcode (``TCGA-XX-XXXX``) of an ID such as ``TCGA-HT_A614`` or ``TCGA-EZ-7265A``."""
    norm = patient.strip().replace("_", "-")
    m = re.match(r"^(TCGA-[A-Z0-9]{2}-[A-Z0-9]{4})", norm, flags=re.IGNORECASE)
    return m.group(1).upper() if m else norm


def read_cdr_survival(path: str | Path, sheet: str = "TCGA-CDR") -> pd.DataFrame:
    """``barcode12, os_event, os_time_days`` from the original TCGA-CDR table (xlsx)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("TCGA-CDR clinical table is missing", path=path)
    raw = pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False)
    for col in ("bcr_patient_barcode", "OS", "OS.time"):
        if col not in raw.columns:
            raise InputError(f"column {col!r} missing in sheet {sheet!r}", path=path)
    out = pd.DataFrame({"barcode12": raw["bcr_patient_barcode"].str.strip().str.upper()})
    for src, dst in (("OS", "os_event"), ("OS.time", "os_time_days")):
        cell = raw[src].str.strip()
        out[dst] = pd.to_numeric(cell.mask(cell.isin(CDR_MISSING)), errors="coerce")
    out["os_event"] = out["os_event"].astype("Int64")
    return out.drop_duplicates("barcode12").reset_index(drop=True)


def attach_survival(frame: pd.DataFrame, survival: pd.DataFrame, *, tcga: bool = True) -> pd.DataFrame:
    """Add ``os_time_days`` / ``os_event`` to a predictions frame.

    ``tcga=True``: match on the 12-character TCGA barcode of ``subject`` (``survival`` from
    ``read_cdr_survival``); otherwise ``survival`` has ``cohort, subject, os_time_days, os_event``
    (a subject sheet) and is matched on both.
    """
    frame = frame.drop(columns=[c for c in ("os_time_days", "os_event") if c in frame.columns])
    if tcga:
        key = frame["subject"].map(barcode12)
        merged = frame.assign(barcode12=key).merge(survival, on="barcode12", how="left").drop(columns="barcode12")
    else:
        cols = survival.loc[:, ["cohort", "subject", "os_time_days", "os_event"]].copy()
        cols["os_time_days"] = pd.to_numeric(cols["os_time_days"], errors="coerce")
        cols["os_event"] = pd.to_numeric(cols["os_event"], errors="coerce").astype("Int64")
        merged = frame.merge(cols, on=["cohort", "subject"], how="left")
    missing = merged["os_time_days"].isna() | merged["os_event"].isna()
    if missing.any():
        log.info("%d of %d patients have no overall survival (e.g. %s): left out of the survival analysis",
                 int(missing.sum()), len(merged), ", ".join(merged.loc[missing, "subject"].head(3)))
    return merged


def _median(durations: np.ndarray, events: np.ndarray) -> float:
    from lifelines import KaplanMeierFitter

    if durations.size == 0:
        return float("nan")
    km = KaplanMeierFitter().fit(durations, events)
    return float(km.median_survival_time_)


def survival_comparison(frame: pd.DataFrame, truth: str = "who2016_true", pred: str = "who2016_pred") -> pd.DataFrame:
    """Per subtype: sizes, events, KM medians of both groupings and the log-rank test between them.

    ``frame`` comes from ``add_subtypes`` plus ``attach_survival``; patients without survival are
    left out. ``median`` is ``inf`` when the curve never drops below 0.5.
    """
    from lifelines.statistics import logrank_test

    f = frame[frame["os_time_days"].notna() & frame["os_event"].notna()]
    rows = []
    for subtype in WHO2016_CLASSES:
        a = f[(f[truth] == subtype).fillna(False).astype(bool)]
        b = f[(f[pred] == subtype).fillna(False).astype(bool)]
        ta, ea = a["os_time_days"].to_numpy(float), a["os_event"].to_numpy(int)
        tb, eb = b["os_time_days"].to_numpy(float), b["os_event"].to_numpy(int)
        row = {
            "subtype": subtype,
            "n_truth": len(a),
            "events_truth": int(ea.sum()),
            "median_os_days_truth": _median(ta, ea),
            "n_predicted": len(b),
            "events_predicted": int(eb.sum()),
            "median_os_days_predicted": _median(tb, eb),
            "n_both": int(len(set(a["subject"]) & set(b["subject"]))),
            "logrank_statistic": np.nan,
            "p_value": np.nan,
        }
        if len(a) and len(b) and (ea.sum() + eb.sum()) > 0:
            res = logrank_test(ta, tb, event_observed_A=ea, event_observed_B=eb)
            row["logrank_statistic"] = float(res.test_statistic)
            row["p_value"] = float(res.p_value)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SURVIVAL_COLUMNS))
