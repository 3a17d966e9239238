"""Per-patient preprocessing: co-registration, atlas registration, N4, skull stripping,
normalization and cropping (van der Voort et al. 2022, Methods), with QC and exclusion.

Entry points: :func:`glioma.preprocess.pipeline.preprocess_subject` (one patient),
:func:`glioma.preprocess.qc.aggregate_qc` (one cohort's QC table and overview figure) and the
``glioma preprocess`` command (:mod:`glioma.preprocess.cli`).
"""
