"""Adapter: the splits table (glioma.data.cli.write_splits)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.data.cli import write_splits  # noqa: E402

write_splits(
    list(snakemake.input.sheets),  # noqa: F821
    list(snakemake.params.roles),  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.output.splits,  # noqa: F821
    snakemake.output.excluded,  # noqa: F821
    snakemake.output.counts,  # noqa: F821
    float(snakemake.params.validation_fraction),  # noqa: F821
    int(snakemake.params.seed),  # noqa: F821
)
