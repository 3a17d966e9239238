"""Reading predictions in our schema and in the published PrognosAIs format."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from glioma import schema
from glioma.errors import InputError
from glioma.evaluate.predictions import detect_format, read_predictions

ROW_SCORES = [0.2, 0.8, 0.9, 0.1, 0.1, 0.2, 0.7]


def _ours(tmp_path: Path) -> Path:
    rows = [
        ["demo_test", "007", "1", "", "4", *map(str, ROW_SCORES)],
        ["demo_test", "12", "", "0", "", *map(str, ROW_SCORES)],
    ]
    path = tmp_path / "predictions.csv"
    pd.DataFrame(rows, columns=list(schema.PREDICTION_COLUMNS)).to_csv(path, index=False)
    return path


def _prognosais(tmp_path: Path) -> Path:
    rows = [["TCGA-LGG", "TCGA-AA-0001", -1, 0.2, 0.8, 1, 0.4, 0.6, 2, 0.5, 0.3, 0.2]]
    path = tmp_path / "test_predictions.csv"
    pd.DataFrame(rows, columns=list(schema.PROGNOSAIS_COLUMNS)).to_csv(path, index=False)
    return path


def test_our_schema_keeps_numeric_ids_and_unknowns(tmp_path: Path) -> None:
    frame = read_predictions(_ours(tmp_path))
    assert list(frame.columns) == list(schema.PREDICTION_COLUMNS)
    assert frame["subject"].tolist() == ["007", "12"]
    assert frame.loc[0, "idh"] == 1 and pd.isna(frame.loc[0, "codeletion"])
    assert pd.isna(frame.loc[1, "grade"]) and frame.loc[1, "codeletion"] == 0
    assert str(frame["grade"].dtype) == "Int64"


def test_prognosais_format_is_converted(tmp_path: Path) -> None:
    frame = read_predictions(_prognosais(tmp_path))
    row = frame.iloc[0]
    assert (row["cohort"], row["subject"]) == ("TCGA-LGG", "TCGA-AA-0001")
    assert pd.isna(row["idh"]) and row["codeletion"] == 1 and row["grade"] == 2
    assert row["score_idh_mutated"] == 0.8 and row["score_1p19q_codeleted"] == 0.6 and row["score_grade_2"] == 0.5


def test_bad_tables_raise_input_error_naming_file_and_patient(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a predictions table"):
        detect_format(["a", "b"])
    path = _ours(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[1, "grade"] = "5"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"patient '12'.*predictions.csv.*grade"):
        read_predictions(path)
    with pytest.raises(InputError, match="does not exist"):
        read_predictions(tmp_path / "missing.csv")
