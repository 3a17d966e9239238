"""Adapter: choose the grid point with the lowest validation loss (summarize_selection)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.model.train import summarize_selection  # noqa: E402

summarize_selection(list(snakemake.input.results), snakemake.output.summary)  # noqa: F821
