"""Adapter: train one experiment run with the main model's recipe (train_experiment_run; ranks via `mpi`)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.experiments.config import get_run  # noqa: E402
from glioma.experiments.runs import train_experiment_run  # noqa: E402

config = dict(snakemake.config)  # noqa: F821
train_experiment_run(
    config,
    get_run(config, snakemake.wildcards.experiment, snakemake.wildcards.run),  # noqa: F821
    snakemake.input.splits,  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.params.out_dir,  # noqa: F821
    summary=snakemake.input.summary,  # noqa: F821
    launcher=snakemake.resources.get("mpi"),  # noqa: F821 - srun for a multi-task SLURM job
)
