"""Journal-size figure style and saving every figure as PNG and PDF (atomically)."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from glioma.io.atomic import save_figure  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting is chatty

#: widths in inches: one journal column and the full page width
SINGLE_COLUMN = 3.5
DOUBLE_COLUMN = 7.2

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 6.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 300,
    "pdf.fonttype": 42,
}


def figure(width: float = DOUBLE_COLUMN, height: float = 3.0, **kwargs):  # noqa: ANN201
    """A new figure under the journal style."""
    with plt.rc_context(RC):
        return plt.figure(figsize=(width, height), **kwargs)


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = DOUBLE_COLUMN, height: float = 3.0, **kwargs):  # noqa: ANN201
    with plt.rc_context(RC):
        return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


def save_png_pdf(fig, png: str | Path, pdf: str | Path | None = None) -> tuple[Path, Path]:  # noqa: ANN001
    """Save ``fig`` to ``png`` and ``pdf`` (default: same stem) and close it."""
    png = Path(png)
    pdf = png.with_suffix(".pdf") if pdf is None else Path(pdf)
    with plt.rc_context(RC):
        save_figure(fig, png, dpi=300)
        save_figure(fig, pdf)
    plt.close(fig)
    return png, pdf


def format_p(p: float, digits: int = 2) -> str:
    """A p-value for a figure: ``p < 0.001`` below 0.001 (never ``p = 0.00``), three decimals below
    0.1 (so 0.049 is not shown as 0.05), ``digits`` above, ``p = n/a`` for NaN."""
    if p is None or p != p:  # None or NaN
        return "p = n/a"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.1:
        return f"p = {p:.3f}"
    return f"p = {p:.{digits}f}"
