"""glioma: multi-task deep learning for glioma subtyping, grading and segmentation.

A reproducible rebuild of van der Voort et al., Neuro-Oncology 2022. Subpackages follow the
pipeline stages: ``synth`` (embedded synthetic cohorts), ``io`` (files), ``ingest``,
``preprocess``, ``data`` (cohort assembly), ``model``, ``evaluate``, ``plots``.
"""

__version__ = "0.1.0"
