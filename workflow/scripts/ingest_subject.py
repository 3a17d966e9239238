"""Adapter: ingest one patient (glioma.ingest.pipeline.run_subject); exclusions still succeed."""

from pathlib import Path

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.ingest.pipeline import run_subject  # noqa: E402

run_subject(
    snakemake.params.cohort_file,  # noqa: F821
    snakemake.input.discovered,  # noqa: F821
    snakemake.wildcards.subject,  # noqa: F821
    Path(snakemake.output.record).parent,  # noqa: F821
)
