"""Fig. 4 (boxplots of Dice, Hausdorff and volumetric similarity) and Appendix F overlays."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from glioma.plots.style import DOUBLE_COLUMN, RC, plt, subplots

METRICS = (("dice", "Dice"), ("hausdorff95_mm", "95th pct. Hausdorff (mm)"), ("volumetric_similarity", "volumetric similarity"))


def metrics_boxplot(table: pd.DataFrame):  # noqa: ANN201
    """Three panels, one box per cohort; only patients with status ``ok`` are drawn."""
    ok = table[table["status"] == "ok"]
    cohorts = sorted(ok["cohort"].unique()) or ["(none)"]
    fig, axes = subplots(1, 3, width=DOUBLE_COLUMN, height=2.4, squeeze=False)
    with plt.rc_context(RC):
        for ax, (col, label) in zip(axes.ravel(), METRICS, strict=True):
            data = [ok.loc[ok["cohort"] == c, col].dropna().to_numpy(float) for c in cohorts]
            ax.boxplot(data, showmeans=True, meanprops={"marker": "^", "ms": 3})
            ax.set_xticks(range(1, len(cohorts) + 1), cohorts, rotation=20)
            means = ", ".join(f"{np.mean(d):.2f}" if len(d) else "n/a" for d in data)
            ax.set_title(f"{label}\nmean {means}")
            if col != "hausdorff95_mm":
                ax.set_ylim(-0.02, 1.02)
        n_bad = int((table["status"] != "ok").sum())
        if n_bad:
            fig.suptitle(f"{n_bad} patient(s) not drawn (empty or excluded masks, see table)", fontsize=6.5, y=1.02)
        fig.tight_layout()
    return fig


def overlay_figure(cases: list[dict]):  # noqa: ANN201
    """One panel per case: the axial slice with the largest reference tumour area.

    ``cases``: dicts with ``title``, ``image`` (3-D array), ``reference`` and ``prediction``
    (3-D boolean arrays, same grid, either may be None). Reference in green, prediction in red,
    named in a legend below the panels.
    """
    n = max(len(cases), 1)
    ncols = min(n, 5)
    nrows = int(np.ceil(n / ncols))
    fig, axes = subplots(nrows, ncols, width=DOUBLE_COLUMN, height=1.7 * nrows, squeeze=False)
    with plt.rc_context(RC):
        for ax in axes.ravel():
            ax.axis("off")
        for ax, case in zip(axes.ravel(), cases, strict=False):
            image = case["image"]
            mask = case["reference"] if case.get("reference") is not None else case.get("prediction")
            if mask is not None and mask.any():
                z = int(np.argmax(mask.reshape(-1, mask.shape[2]).sum(axis=0)))
            else:
                z = image.shape[2] // 2
            sl = np.rot90(image[:, :, z])
            lo, hi = np.percentile(sl, [1, 99]) if sl.size else (0, 1)
            ax.imshow(sl, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
            for key, color in (("reference", "lime"), ("prediction", "red")):
                m = case.get(key)
                if m is not None and m[:, :, z].any():
                    ax.contour(np.rot90(m[:, :, z]).astype(float), levels=[0.5], colors=color, linewidths=0.7)
            ax.set_title(case["title"], fontsize=6.5)
        drawn = [(k, c) for k, c in (("reference", "lime"), ("prediction", "red"))
                 if any(case.get(k) is not None for case in cases)]
        if drawn:
            fig.legend([Line2D([], [], color=c, lw=1.2) for _, c in drawn], [k for k, _ in drawn],
                       loc="lower center", ncol=len(drawn), frameon=False, fontsize=6.5)
        fig.tight_layout(rect=(0, 0.06 if drawn else 0, 1, 1))
    return fig
