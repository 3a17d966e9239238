"""Adapter: rule preprocess_subject -> glioma.preprocess.sheet.preprocess_from_sheet."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.preprocess.threads import set_threads  # noqa: E402

set_threads(snakemake.threads)  # noqa: F821

from glioma.preprocess.sheet import preprocess_from_sheet  # noqa: E402

preprocess_from_sheet(
    snakemake.input.sheet,  # noqa: F821
    snakemake.wildcards.subject,  # noqa: F821
    snakemake.params.out_dir,  # noqa: F821
    cohort=snakemake.wildcards.cohort,  # noqa: F821
    settings=dict(snakemake.params.settings),  # noqa: F821
)
