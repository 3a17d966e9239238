"""Adapter: discover a cohort's patients (glioma.ingest.pipeline.run_discover)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.ingest.pipeline import run_discover  # noqa: E402

run_discover(snakemake.params.cohort_file, snakemake.output.discovered, snakemake.output.labels)  # noqa: F821
