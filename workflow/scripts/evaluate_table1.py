"""Adapter: Table 1 from the subject sheets (glioma.evaluate.pipeline.write_table1)."""

from glioma.logs import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821

from glioma.evaluate.pipeline import write_table1  # noqa: E402

write_table1(list(snakemake.input.sheets), snakemake.params.roles, snakemake.output.table1)  # noqa: F821
