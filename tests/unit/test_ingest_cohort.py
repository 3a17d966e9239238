"""Cohort files: the shipped ones validate; errors name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from glioma.errors import ConfigError
from glioma.ingest.cohort import SCHEMA_PATH, load_cohort

REPO = Path(__file__).resolve().parents[2]
REAL = ["tcga_lgg", "tcga_gbm", "rembrandt", "cptac_gbm", "ivy_gap", "brain_tumor_progression", "brats2019", "egd"]


def test_schema_is_there():
    assert SCHEMA_PATH.is_file()


@pytest.mark.parametrize("name", REAL)
def test_real_cohort_files_validate_and_document_their_layout(name):
    path = REPO / "config" / "cohorts" / f"{name}.yaml"
    cohort = load_cohort(path)
    assert cohort.name == name
    text = path.read_text()
    assert "Expected raw layout" in text and "Labels" in text  # documented in comments
    assert cohort.label_tables, "every real source names its label table"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"layout": "zip_archive"}, "layout"),
        ({"label_tables": [{"path": "x.csv"}]}, "label_tables.0"),
        ({"segmentation": {"source": "guess"}}, "segmentation.source"),
        ({"name": "a/b"}, "name"),
        ({"unknown_key": 1}, "(top level)"),
    ],
)
def test_errors_name_file_and_key(tmp_path, change, key):
    data = {"name": "ok", "layout": "nifti_folder", "raw_root": "raw", **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_cohort(path)
    assert str(path) in str(err.value) and f"key {key}" in str(err.value)
