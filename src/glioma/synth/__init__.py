"""Embedded synthetic glioma cohort generator (``glioma synth``).

Anatomy from the MNI ICBM152 2009a template shipped inside nilearn, a label-dependent tumour model
with a known posterior (the *oracle*), institute scanner profiles, and writers for the layouts of
real downloads (TCIA-like DICOM, BraTS-like NIfTI, clinical tables). See ``README.md``.
"""

from __future__ import annotations

GENERATOR_VERSION = "1.1.0"
"""Bumped whenever the same seed would give different files."""
