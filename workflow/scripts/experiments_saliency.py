"""Adapter: saliency and feature maps of the main model on one test cohort (write_saliency)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.experiments.saliency import write_saliency  # noqa: E402

settings = dict(snakemake.params.settings)  # noqa: F821
write_saliency(
    snakemake.params.model_dir,  # noqa: F821
    snakemake.input.predictions,  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.wildcards.cohort,  # noqa: F821
    snakemake.params.out_dir,  # noqa: F821
    patients=[str(p) for p in settings.get("patients") or []],
    tasks=settings.get("tasks") or ("idh", "codeletion", "grade"),
    method=settings.get("method", "saliency"),
    layer=settings.get("layer", "encoders.0"),
    filters=settings.get("filters") or (0, 1, 2, 3),
    threads=snakemake.threads,  # noqa: F821
)
