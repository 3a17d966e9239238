"""glioma.io.tables: reading label tables as text and unifying codes."""

from __future__ import annotations

import pandas as pd
import pytest

from glioma.errors import ConfigError
from glioma.io.tables import LabelTableSpec, match_key, read_table, unify_labels

CECCARELLI_LIKE = (
    "Case\tGrade\tAge\tGender\tIDH status\t1p/19q codeletion\tSurvival (months)\tVital status (1=dead)\n"
    "0007\tG2\t41\tfemale\tMutant\tcodel\t12.5\t0\n"
    "P2\tG4\tNA\tmale\tWT\tnon-codel\t2\t1\n"
    "P3\tG3\t50\tmale\tNA\tNA\tNA\tNA\n"
    "P4\tG9\t50\tmale\tWT\tnon-codel\t1\t1\n"
    "../evil\tG2\t1\tmale\tWT\tcodel\t1\t1\n"
)
COLUMNS = {
    "idh": {"column": "IDH status", "map": {"Mutant": 1, "WT": 0}},
    "codeletion": {"column": "1p/19q codeletion", "map": {"codel": 1, "non-codel": 0}},
    "grade": {"column": "Grade", "map": {"G2": 2, "G3": 3, "G4": 4}},
    "age": {"column": "Age"},
    "sex": {"column": "Gender", "map": {"male": "M", "female": "F"}},
    "os_time_days": {"column": "Survival (months)", "scale": 30.4375},
    "os_event": {"column": "Vital status (1=dead)", "map": {1: 1, 0: 0}},
}


def spec(path, **extra):
    return LabelTableSpec.from_dict({"path": str(path), "id_column": "Case", "missing": ["NA"],
                                     "columns": COLUMNS, **extra}, raw_root="/raw")


def test_unify_codes_numeric_ids_and_unknowns(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text(CECCARELLI_LIKE)
    result = unify_labels([spec(path)], ["0007", "P2", "P3", "P4", "absent"])
    assert result.labels["0007"] == {"idh": 1, "codeletion": 1, "grade": 2, "age": 41.0, "sex": "F",
                                     "os_time_days": pytest.approx(12.5 * 30.4375), "os_event": 0,
                                     "preoperative": None, "institute": None}
    assert result.labels["P2"]["age"] is None and result.labels["P2"]["idh"] == 0
    assert all(result.labels["P3"][c] is None for c in ("idh", "codeletion", "os_time_days", "os_event"))
    assert all(v is None for v in result.labels["absent"].values())
    category, message = result.problems["P4"]
    assert category == "label_error" and "G9" in message and "P4" in message and "labels.tsv" in message
    assert set(result.problems) == {"P4"}


def test_later_tables_fill_gaps_only(tmp_path):
    first = tmp_path / "a.csv"
    first.write_text("Case,IDH status\nP1,NA\nP2,WT\n")
    second = tmp_path / "b.csv"
    second.write_text("Case,IDH status\nP1,Mutant\nP2,Mutant\n")
    cols = {"idh": COLUMNS["idh"]}
    specs = [spec(first, columns=cols), spec(second, columns=cols)]
    labels = unify_labels(specs, ["P1", "P2"]).labels
    assert labels["P1"]["idh"] == 1 and labels["P2"]["idh"] == 0


def test_duplicate_ids_conflicting_are_reported(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("Case,IDH status\nP1,WT\nP1,Mutant\nP2,WT\nP2,WT\n")
    result = unify_labels([spec(path, columns={"idh": COLUMNS["idh"]})], ["P1", "P2"])
    assert result.problems["P1"][0] == "duplicate_id" and "P1" in result.problems["P1"][1]
    assert "P2" not in result.problems


def test_xlsx_sheet_and_header_row(tmp_path):
    path = tmp_path / "t.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([["List of cases", ""], ["Case", "Grade"], ["P1", "G3"]]).to_excel(
            writer, sheet_name="S1A", header=False, index=False)
    frame = read_table(path, sheet="S1A", header_row=1)
    assert list(frame.columns) == ["Case", "Grade"]
    result = unify_labels([spec(path, sheet="S1A", header_row=1, columns={"grade": COLUMNS["grade"]})], ["P1"])
    assert result.labels["P1"]["grade"] == 3


def test_tcga_barcode_transform():
    assert match_key("TCGA-HT_A614", "tcga_barcode12") == "TCGA-HT-A614"
    assert match_key("TCGA-EZ-7265A", "tcga_barcode12") == "TCGA-EZ-7265"
    assert match_key("TCGA-02-0003-01A", "tcga_barcode12") == "TCGA-02-0003"
    assert match_key(" 0042 ") == "0042"


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a valid grade"):
        LabelTableSpec.from_dict({"path": "x.csv", "id_column": "Case",
                                  "columns": {"grade": {"column": "G", "map": {"G5": 5}}}}, raw_root=".")
    path = tmp_path / "c.csv"
    path.write_text("Case,Other\nP1,x\n")
    with pytest.raises(ConfigError, match="IDH status"):
        unify_labels([spec(path, columns={"idh": COLUMNS["idh"]})], ["P1"])
    with pytest.raises(ConfigError, match="does not exist"):
        read_table(tmp_path / "missing.csv")
