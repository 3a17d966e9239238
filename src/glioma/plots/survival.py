"""Appendix G: Kaplan-Meier curves per WHO 2016 subtype, by ground truth and by prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from glioma.evaluate.subtypes import WHO2016_CLASSES
from glioma.plots.style import DOUBLE_COLUMN, RC, format_p, plt, subplots


def km_figure(frame: pd.DataFrame, logrank: pd.DataFrame, truth: str = "who2016_true", pred: str = "who2016_pred"):  # noqa: ANN201
    """One panel per subtype: truth (solid) vs prediction (dashed), log-rank p in the title."""
    from lifelines import KaplanMeierFitter

    f = frame[frame["os_time_days"].notna() & frame["os_event"].notna()]
    fig, axes = subplots(2, 3, width=DOUBLE_COLUMN, height=4.4, squeeze=False)
    p_by = dict(zip(logrank["subtype"], logrank["p_value"], strict=True))
    with plt.rc_context(RC):
        for ax, subtype in zip(axes.ravel(), WHO2016_CLASSES, strict=True):
            for col, style, name in ((truth, "-", "ground truth"), (pred, "--", "prediction")):
                g = f[(f[col] == subtype).fillna(False).astype(bool)]
                if len(g) == 0:
                    continue
                km = KaplanMeierFitter(label=f"{name} (n={len(g)})")
                km.fit(g["os_time_days"].to_numpy(float) / 365.25, g["os_event"].to_numpy(int))
                km.plot_survival_function(ax=ax, ci_show=False, ls=style, lw=1.0, show_censors=True,
                                          censor_styles={"ms": 3, "marker": "|"})
            p = p_by.get(subtype, np.nan)
            ax.set_title(f"{subtype}\nlog-rank {format_p(p)}", fontsize=7)
            ax.set_xlabel("years")
            ax.set_ylabel("overall survival")
            ax.set_ylim(0, 1.05)
            if ax.get_legend() is not None:
                ax.legend(frameon=False, loc="upper right")
        fig.tight_layout()
    return fig
