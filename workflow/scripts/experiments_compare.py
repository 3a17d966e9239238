"""Adapter: one experiment's runs against the main model on one test cohort (write_comparison)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.experiments.compare import write_comparison  # noqa: E402

write_comparison(
    snakemake.wildcards.experiment,  # noqa: F821
    dict(snakemake.params.runs),  # noqa: F821
    snakemake.wildcards.cohort,  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.output.table,  # noqa: F821
    snakemake.output.figure,  # noqa: F821
    n_resamples=int(snakemake.params.n_resamples),  # noqa: F821
    seed=int(snakemake.params.seed),  # noqa: F821
    ci_method=snakemake.params.ci_method,  # noqa: F821
)
