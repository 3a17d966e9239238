"""Adapter: Fig. 2 inclusion flowchart (glioma.evaluate.pipeline.write_flowchart)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.evaluate.pipeline import write_flowchart  # noqa: E402

write_flowchart(snakemake.input.summary, snakemake.output.flowchart, qc_tables=list(snakemake.input.qc))  # noqa: F821
