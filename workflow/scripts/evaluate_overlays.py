"""Adapter: Appendix F overlays (glioma.evaluate.pipeline.write_overlays)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.evaluate.pipeline import write_overlays  # noqa: E402

write_overlays(
    snakemake.wildcards.cohort,  # noqa: F821
    snakemake.input.predictions,  # noqa: F821
    snakemake.params.image_dir,  # noqa: F821
    snakemake.params.prediction_dir,  # noqa: F821
    snakemake.output.overlay,  # noqa: F821
    n_patients=snakemake.params.n_patients,  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
    sequence=snakemake.params.sequence,  # noqa: F821
)
