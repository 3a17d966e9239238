"""Figures of the study (matplotlib, Agg backend), each saved as PNG and PDF at journal size."""
