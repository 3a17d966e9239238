"""Evaluation: Table 2 with bootstrap CIs, subtypes, segmentation metrics, survival, tables."""
