"""Adapter: per-patient segmentation metrics and Fig. 4 (glioma.evaluate.pipeline.write_segmentation)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.evaluate.pipeline import write_segmentation  # noqa: E402

write_segmentation(
    snakemake.wildcards.cohort,  # noqa: F821
    snakemake.input.predictions,  # noqa: F821
    snakemake.params.reference_dir,  # noqa: F821
    snakemake.params.prediction_dir,  # noqa: F821
    snakemake.output.metrics,  # noqa: F821
    snakemake.output.boxplot,  # noqa: F821
)
