"""Ingest: discover patients, convert and select series, include/exclude, unify labels.

Modules: :mod:`.cohort` (cohort files), :mod:`.sequences` (identify and select series, pure),
:mod:`.discover` (patients and label-based exclusions), :mod:`.subject` (one patient's images),
:mod:`.sheet` (subject sheet, exclusions, inclusion summary), :mod:`.cli` (``glioma ingest``).
"""

#: exclusion reason categories (the ``reason`` of exclusions.tsv and the inclusion summary)
REASONS: dict[str, str] = {
    "invalid_id": "patient ID is not a valid ID (path separator, '..', or other characters)",
    "duplicate_id": "the same patient ID occurs more than once",
    "label_error": "unknown label code or conflicting duplicate row in a label table",
    "postoperative": "no preoperative imaging (study description or label table)",
    "missing_sequence": "no study with all required sequences (T1, T1c, T2, FLAIR)",
    "corrupt_file": "corrupt or truncated DICOM or NIfTI file",
    "segmentation_mismatch": "segmentation file is not on the grid of any selected series",
    "no_images": "no image files found",
}
