"""Adapter: model AUCs and Dice against the synthetic generator's oracle (write_model_vs_oracle)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.model.infer import write_model_vs_oracle  # noqa: E402

write_model_vs_oracle(
    snakemake.input.predictions,  # noqa: F821
    snakemake.input.oracle,  # noqa: F821
    snakemake.params.infer_dir,  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.output.table,  # noqa: F821
)
