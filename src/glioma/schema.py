"""The project's data contracts: column names and codes shared by every stage.

Labels are unified into one encoding everywhere after ingest:

* ``idh``: 1 = mutated, 0 = wildtype, missing = unknown
* ``codeletion`` (1p/19q): 1 = co-deleted, 0 = intact, missing = unknown
* ``grade``: 2, 3 or 4 (WHO II/III/IV), missing = unknown
* ``sex``: ``M`` / ``F``, missing = unknown
* ``os_time_days`` (float), ``os_event`` (1 = death, 0 = censored), missing = unknown
* ``segmentation``: ``manual`` / ``automatic`` / ``none``

In TSV/CSV files "missing" is an empty cell. In tensors it is ``-1`` (``UNKNOWN``).
"""

from __future__ import annotations

SEQUENCES: tuple[str, ...] = ("t1", "t1c", "t2", "flair")

#: the WHO 2016 diffuse glioma classes as (IDH mutant, 1p/19q co-deleted, grade): a co-deletion
#: only in IDH-mutant tumours (oligodendroglioma), which are grade II or III. The synthetic
#: generator draws these classes; the network's ``label_structure`` builds on them.
WHO_CLASSES: tuple[tuple[int, int, int], ...] = (
    (0, 0, 2), (0, 0, 3), (0, 0, 4), (1, 0, 2), (1, 0, 3), (1, 0, 4), (1, 1, 2), (1, 1, 3))
"""Channel order of the network and file names of every per-patient folder."""

UNKNOWN = -1

LABEL_COLUMNS: tuple[str, ...] = (
    "idh",
    "codeletion",
    "grade",
    "age",
    "sex",
    "os_time_days",
    "os_event",
)

SEGMENTATION_SOURCES: tuple[str, ...] = ("manual", "automatic", "none")

# --- ingest: subject sheet, one per cohort: results/ingest/<cohort>/subjects.tsv -------------
SUBJECT_SHEET_COLUMNS: tuple[str, ...] = (
    "cohort",
    "subject",
    "included",  # 1 / 0
    "exclusion_reason",  # empty when included
    *LABEL_COLUMNS,
    "segmentation",  # manual / automatic / none
    "seg_reference",  # sequence whose grid the segmentation was drawn on (e.g. t1c), or empty
    # native NIfTI written by ingest, relative to the subject sheet's folder:
    "t1",
    "t1c",
    "t2",
    "flair",
    "seg",
    "institute",
)

# --- inclusion summary: results/ingest/inclusion_summary.tsv ------------------------------------
INCLUSION_SUMMARY_COLUMNS: tuple[str, ...] = ("cohort", "stage", "reason", "n")
# reasons of the rows that count patients (found at discovery, included at the end); every other
# reason is an exclusion. An empty reason also counts (tables written by hand).
INCLUSION_COUNT_REASONS: tuple[str, ...] = ("found", "included")

# --- predictions: our own CSV schema (one row per patient) ---------------------------------------
# Truth columns use the unified encoding (empty = unknown); scores are softmax probabilities.
PREDICTION_COLUMNS: tuple[str, ...] = (
    "cohort",
    "subject",
    "idh",
    "codeletion",
    "grade",
    "score_idh_wildtype",
    "score_idh_mutated",
    "score_1p19q_intact",
    "score_1p19q_codeleted",
    "score_grade_2",
    "score_grade_3",
    "score_grade_4",
)

# --- the published PrognosAIs format (../shared/data/prognosais_supplementary) ------------------
PROGNOSAIS_COLUMNS: tuple[str, ...] = (
    "Data_collection",
    "Patient",
    "IDH_mutated",
    "Prediction_score_IDH_wildtype",
    "Prediction_score_IDH_mutated",
    "1p19q_codeleted",
    "Prediction_score_1p19q_intact",
    "Prediction_score_1p19q_codeleted",
    "Grade",
    "Prediction_score_grade_2",
    "Prediction_score_grade_3",
    "Prediction_score_grade_4",
)
"""Unknown truth is ``-1`` in that format."""

# --- preprocessing output: results/preprocess/<cohort>/<subject>/ ---------------------------------
PREPROCESS_FILES: dict[str, str] = {
    "t1": "t1.nii.gz",  # atlas space, z-scored within brain, cropped, resampled
    "t1c": "t1c.nii.gz",
    "t2": "t2.nii.gz",
    "flair": "flair.nii.gz",
    "brain_mask": "brain_mask.nii.gz",  # atlas space, uint8 0/1
    "seg": "seg.nii.gz",  # atlas space, uint8 0/1 whole tumour; only if the patient has one
    "qc_png": "qc.png",
    "qc": "qc.json",  # {"subject", "status": "ok"|"excluded", "reason", metrics...}
    "transforms": "transforms",  # folder of ANTs transforms native <-> atlas
}
