"""Adapter: Table 2 and the ROC figure (glioma.evaluate.pipeline.write_table2)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.evaluate.pipeline import write_table2  # noqa: E402

write_table2(
    snakemake.input.predictions,  # noqa: F821
    snakemake.output.table2,  # noqa: F821
    snakemake.output.table2_formatted,  # noqa: F821
    snakemake.output.roc,  # noqa: F821
    n_resamples=snakemake.params.n_resamples,  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    ci_method=snakemake.params.ci_method,  # noqa: F821
)
