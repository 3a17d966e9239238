"""Cohort assembly: inclusion by QC, stratified seeded validation hold-out, editable table."""

import json

import pandas as pd
import pytest

from glioma.data.cli import write_splits
from glioma.data.splits import (
    SPLIT_COLUMNS,
    assemble_splits,
    read_splits,
    stratified_validation,
)
from glioma.data.toy import make_toy_cohort
from glioma.errors import InputError


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("splits")
    pre, train_sheet = make_toy_cohort(root, "tr", 40, shape=(6, 6, 6), seed=1, unknown_fraction=0.3)
    _, test_sheet = make_toy_cohort(root, "te", 5, shape=(6, 6, 6), seed=2, first_id=500)
    return root, pre, train_sheet, test_sheet


def test_stratified_validation_fraction_and_strata():
    strata = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    mask = stratified_validation(strata, 0.15, seed=0)
    assert mask.sum() == 15
    picked = pd.Series(strata)[mask].value_counts()
    assert 8 <= picked["a"] <= 10 and 4 <= picked["b"] <= 5 and 1 <= picked.get("c", 0) <= 2
    assert (stratified_validation(strata, 0.15, seed=0) == mask).all()
    assert (stratified_validation(strata, 0.15, seed=1) != mask).any()
    assert stratified_validation(strata, 0.0, seed=0).sum() == 0


def test_assemble_splits_roles_folds_and_ids(toy):
    root, pre, train_sheet, test_sheet = toy
    splits, excluded = assemble_splits({"tr": train_sheet, "te": test_sheet},
                                       {"tr": "train", "te": "test"}, pre, 0.15, 42)
    assert list(splits.columns) == list(SPLIT_COLUMNS)
    assert excluded.empty
    assert (splits.loc[splits.cohort == "te", "fold"] == "test").all()
    train = splits[splits.cohort == "tr"]
    assert (train["fold"] == "val").sum() == 6  # round(0.15 * 40)
    assert splits["subject"].iloc[0] == "0001"  # numeric IDs stay strings
    assert set(splits["grade"]) <= {"", "2", "3", "4"}


def test_failed_qc_and_missing_qc_are_excluded_with_reason(toy, tmp_path):
    root, pre, train_sheet, test_sheet = toy
    qc = pre / "te" / "0501" / "qc.json"
    original = qc.read_text()
    try:
        qc.write_text(json.dumps({"status": "excluded", "reason": "registration failed"}))
        (pre / "te" / "0502" / "qc.json").rename(tmp_path / "moved.json")
        splits, excluded = assemble_splits({"te": test_sheet}, {"te": "test"}, pre)
        assert set(excluded["subject"]) == {"0501", "0502"}
        reasons = " ".join(excluded["reason"])
        assert "registration failed" in reasons and "no qc.json" in reasons
        assert len(splits) == 3
    finally:
        qc.write_text(original)
        (tmp_path / "moved.json").rename(pre / "te" / "0502" / "qc.json")


def test_written_table_round_trips_and_is_checked(toy, tmp_path):
    root, pre, train_sheet, test_sheet = toy
    out = tmp_path / "splits.tsv"
    write_splits([train_sheet, test_sheet], ["train", "test"], pre, out,
                 tmp_path / "excluded.tsv", tmp_path / "counts.tsv")
    splits = read_splits(out)
    assert splits["subject"].str.len().min() == 4
    counts = pd.read_csv(tmp_path / "counts.tsv", sep="\t")
    assert counts["patients"].sum() == 45
    edited = splits.copy()
    edited.loc[0, "fold"] = "holdout"
    edited.to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="unknown fold"):
        read_splits(tmp_path / "bad.tsv")
