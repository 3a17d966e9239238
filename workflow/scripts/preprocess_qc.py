"""Adapter: rule preprocess_qc -> glioma.preprocess.qc.aggregate_qc."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.preprocess.qc import aggregate_qc  # noqa: E402

aggregate_qc(
    list(snakemake.input.qc),  # noqa: F821
    snakemake.output.table,  # noqa: F821
    snakemake.output.figure,  # noqa: F821
    cohort=snakemake.wildcards.cohort,  # noqa: F821
)
