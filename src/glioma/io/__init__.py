"""File input and output: atomic writes, NIfTI and DICOM reading, tables."""
