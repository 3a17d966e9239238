"""Adapter: final training on the whole training set and the model artefact (run_final; ranks via `mpi`)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.model.cli import run_final  # noqa: E402

run_final(
    dict(snakemake.config),  # noqa: F821
    snakemake.input.splits,  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.input.summary,  # noqa: F821
    snakemake.params.out_dir,  # noqa: F821
    launcher=snakemake.resources.get("mpi"),  # noqa: F821 - srun for a multi-task SLURM job
)
