"""Adapter: inclusion summary over all cohorts (glioma.ingest.pipeline.run_summary)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.ingest.pipeline import run_summary  # noqa: E402

run_summary(
    zip(snakemake.params.cohorts, snakemake.input.subjects, snakemake.input.exclusions, strict=True),  # noqa: F821
    snakemake.output.summary,  # noqa: F821
)
