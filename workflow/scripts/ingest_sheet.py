"""Adapter: subject sheet and exclusions of one cohort (glioma.ingest.pipeline.run_sheet)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.ingest.pipeline import run_sheet  # noqa: E402

run_sheet(
    snakemake.params.cohort_file,  # noqa: F821
    snakemake.input.discovered,  # noqa: F821
    snakemake.input.labels,  # noqa: F821
    list(snakemake.input.records),  # noqa: F821
    snakemake.output.subjects,  # noqa: F821
    snakemake.output.exclusions,  # noqa: F821
)
