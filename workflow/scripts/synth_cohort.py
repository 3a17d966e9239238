"""Adapter: rule synth_cohort -> glioma.synth.cli.run_synth."""

from pathlib import Path

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.synth.cli import run_synth  # noqa: E402

run_synth(
    Path(snakemake.params.cohort_file),  # noqa: F821
    Path(snakemake.output.marker).parent,  # noqa: F821
    seed=int(snakemake.params.seed),  # noqa: F821
    progress=False,
)
