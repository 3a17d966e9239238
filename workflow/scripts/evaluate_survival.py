"""Adapter: KM curves and log-rank tests by true vs predicted subtype (glioma.evaluate.pipeline.write_survival)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.evaluate.pipeline import write_survival  # noqa: E402

subjects = snakemake.input.get("subjects")  # noqa: F821 - one subject sheet (demo), or none (paper)

write_survival(
    snakemake.input.predictions,  # noqa: F821
    snakemake.output.logrank,  # noqa: F821
    snakemake.output.km,  # noqa: F821
    cdr_xlsx=snakemake.input.get("cdr"),  # noqa: F821
    subject_sheets=[subjects] if subjects else [],
)
