"""Adapter: the robustness examples of one test cohort (write_robustness)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.experiments.robustness import write_robustness  # noqa: E402

settings = dict(snakemake.params.settings)  # noqa: F821
write_robustness(
    snakemake.input.predictions,  # noqa: F821
    snakemake.params.infer_dir,  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.wildcards.cohort,  # noqa: F821
    snakemake.params.out_dir,  # noqa: F821
    n_wrong=int(settings.get("n_wrong", 3)),
    n_low_quality=int(settings.get("n_low_quality", 1)),
    sequence=settings.get("sequence", "t1c"),
)
