"""Adapter: test-set predictions and segmentations of one cohort (predict_cohort)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.data.splits import read_splits  # noqa: E402
from glioma.model.infer import predict_cohort  # noqa: E402

predict_cohort(
    snakemake.params.model_dir,  # noqa: F821
    read_splits(snakemake.input.splits),  # noqa: F821
    snakemake.wildcards.cohort,  # noqa: F821
    snakemake.params.preprocess_root,  # noqa: F821
    snakemake.params.out_dir,  # noqa: F821
    native=bool(snakemake.params.native),  # noqa: F821
    prognosais=True,
    threads=snakemake.threads,  # noqa: F821
)
