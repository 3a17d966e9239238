"""Adapter: confusion matrices, per-subtype performance, Appendix E (glioma.evaluate.pipeline.write_subtypes)."""

from pathlib import Path

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.evaluate.pipeline import write_subtypes  # noqa: E402

write_subtypes(snakemake.input.predictions, Path(snakemake.output.performance).parent)  # noqa: F821
