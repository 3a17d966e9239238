# Shared helpers: config validation, cohort files, target lists. No rules here.
import functools
import json
import os
from pathlib import Path

import yaml

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.io import checkpoint_target
from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")


def _load_cohorts():
    """name -> (cohort dict validated against the cohort schema, role)."""
    cohorts = {}
    for entry in config["cohorts"]:
        path = Path(entry["file"])
        with path.open() as handle:
            cohort = yaml.safe_load(handle)
        try:
            validate(cohort, schema="../schemas/cohort.schema.yaml")
        except Exception as err:  # name the file: Snakemake's message names only the schema
            raise ValueError(f"cohort file {path}: {err}") from err
        if cohort["name"] in cohorts:
            raise ValueError(f"cohort file {path}: duplicate cohort name {cohort['name']!r}")
        cohorts[cohort["name"]] = {"cohort": cohort, "role": entry["role"], "file": str(path)}
    return cohorts


COHORTS = _load_cohorts()
COHORT_NAMES = list(COHORTS)
SYNTHETIC_COHORTS = [n for n, c in COHORTS.items() if "synthetic" in c["cohort"]]


wildcard_constraints:
    cohort=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    subject=r"[A-Za-z0-9][A-Za-z0-9_-]*",


def get_cohort_file(wildcards):
    return COHORTS[wildcards.cohort]["file"]


# The cohort file is a param of the rules that read it, not an input, and so is its content as
# canonical JSON: Snakemake's params trigger reruns them when what the file says changes, and a
# comment, a re-indent or a key order does not (an input's mtime would: a comment in a cohort file
# reran its generation, ingest and hours of preprocessing).
def _canonical(value):
    return json.dumps(value, sort_keys=True, default=str)


def get_cohort_spec(wildcards):
    return _canonical(COHORTS[wildcards.cohort]["cohort"])


def get_synth_spec(wildcards):
    """What the generator reads of the cohort file (glioma.synth.config.synth_spec)."""
    from glioma.synth.config import synth_spec

    return _canonical(synth_spec(COHORTS[wildcards.cohort]["cohort"]))


def get_raw_root(wildcards):
    return COHORTS[wildcards.cohort]["cohort"]["raw_root"]


def get_raw_marker(wildcards):
    """The raw download of a cohort: for synthetic cohorts, the generator's completion marker."""
    if wildcards.cohort in SYNTHETIC_COHORTS:
        return f"{get_raw_root(wildcards)}/cohort.json"
    return []


TRAIN_COHORTS = [n for n, c in COHORTS.items() if c["role"] == "train"]
TEST_COHORTS = [n for n, c in COHORTS.items() if c["role"] == "test"]


def get_final_targets(wildcards):
    """The whole study: ingest, preprocessing QC, model, test-set inference and evaluation.

    The experiments (`snakemake experiments`) and the paper-predictions target (`snakemake paper`)
    are separate targets; `experiments.in_all: true` in the config adds the experiments here.
    """
    from glioma.evaluate.targets import evaluate_targets
    from glioma.model.targets import model_targets

    targets = ["results/ingest/inclusion_summary.tsv"]
    targets += [f"results/ingest/{c}/subjects.tsv" for c in COHORT_NAMES]
    targets += [f"results/preprocess/{c}/qc.tsv" for c in COHORT_NAMES]
    targets += model_targets(TEST_COHORTS, [c for c in TEST_COHORTS if c in SYNTHETIC_COHORTS])
    targets += evaluate_targets(TEST_COHORTS)
    return targets


# --- ingest (added by the ingest stage) -----------------------------------------------------------
def _read_tsv_rows(path):
    """Rows of a TSV as dicts of strings; cached on (path, mtime, size), so that input functions
    called once per patient read each sheet once, not once per job (O(N) instead of O(N^2))."""
    stat = os.stat(path)
    return _read_tsv_rows_cached(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_tsv_rows_cached(path, mtime_ns, size):
    import csv

    with open(path, newline="") as handle:
        return tuple(csv.DictReader(handle, delimiter="\t"))  # shared by all callers: read-only


def get_ingest_records(wildcards):
    """record.json of every patient that discovery passed on (after checkpoint ingest_discover)."""
    discovered = checkpoints.ingest_discover.get(cohort=wildcards.cohort).output.discovered
    subjects = [r["subject"] for r in _read_tsv_rows(discovered) if r["status"] == "ok"]
    return [f"results/ingest/{wildcards.cohort}/{s}/record.json" for s in subjects]


def get_included_subjects(cohort):
    """IDs (strings) of the included patients of a cohort, from its subject sheet (checkpoint)."""
    sheet = checkpoints.ingest_sheet.get(cohort=cohort).output.subjects
    if not os.path.exists(sheet):
        # Snakemake 9.15 can count a checkpoint as done whose output is missing (a run killed
        # between two cohorts' ingest, then restarted): wait for it as the checkpoint would
        raise IncompleteCheckpointException(checkpoints.ingest_sheet.rule, checkpoint_target(sheet))
    stat = os.stat(sheet)
    return list(_included_subjects_cached(os.path.abspath(sheet), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _included_subjects_cached(path, mtime_ns, size):
    return tuple(r["subject"] for r in _read_tsv_rows_cached(path, mtime_ns, size) if r["included"] == "1")


# --- preprocess (added by the preprocess stage) ---------------------------------------------------
def get_preprocess_subject_inputs(wildcards):
    """The subject sheet (after the ingest checkpoint) and the patient's native files."""
    from glioma.preprocess.sheet import subject_inputs

    get_included_subjects(wildcards.cohort)  # waits for checkpoint ingest_sheet
    sheet = f"results/ingest/{wildcards.cohort}/subjects.tsv"
    return {"sheet": sheet, **subject_inputs(sheet, wildcards.subject)}


def _preprocess_qc_files(cohort):
    return [f"results/preprocess/{cohort}/{s}/qc.json" for s in get_included_subjects(cohort)]


def get_preprocess_qc_inputs(wildcards):
    return _preprocess_qc_files(wildcards.cohort)


def get_preprocess_targets(wildcards=None):
    """Per-subject qc.json of every included patient of every cohort, and each cohort's QC table."""
    targets = []
    for cohort in COHORT_NAMES:
        targets += _preprocess_qc_files(cohort)
        targets += [f"results/preprocess/{cohort}/qc.tsv", f"results/preprocess/{cohort}/qc_overview.png"]
    return targets
