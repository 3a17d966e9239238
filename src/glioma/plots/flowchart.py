"""Fig. 2: inclusion flowchart per cohort, drawn from the ingest inclusion summary."""

from __future__ import annotations

import pandas as pd

from glioma.plots.style import DOUBLE_COLUMN, RC, plt, subplots
from glioma.schema import INCLUSION_COUNT_REASONS


def flow_steps(summary: pd.DataFrame) -> dict[str, list[dict]]:
    """Cohort -> ordered steps ``{stage, n, exclusions: [(reason, n), ...]}``.

    Rows whose ``reason`` is empty or a count reason (``schema.INCLUSION_COUNT_REASONS``: found,
    included) give the number of patients that reached a stage; every other row is patients
    excluded at that stage, before the next one. A stage without a count row gets the previous
    stage's count minus the previous stage's exclusions.
    """
    out: dict[str, list[dict]] = {}
    s = summary.fillna({"reason": ""})
    s = s.assign(is_count=s["reason"].astype(str).str.strip().isin(("", *INCLUSION_COUNT_REASONS)))
    for cohort, rows in s.groupby("cohort", sort=False):
        steps: list[dict] = []
        for stage, g in rows.groupby("stage", sort=False):
            counts = g[g["is_count"]]
            excl = [(str(r), int(n)) for r, n in zip(g.loc[~g["is_count"], "reason"], g.loc[~g["is_count"], "n"], strict=True)]
            if len(counts):
                n = int(counts["n"].astype(int).iloc[-1])
            elif steps and steps[-1]["n"] is not None:
                n = steps[-1]["n"] - sum(k for _, k in steps[-1]["exclusions"])
            else:
                n = None
            steps.append({"stage": str(stage), "n": n, "exclusions": excl})
        out[str(cohort)] = steps
    return out


def flowchart_figure(summary: pd.DataFrame):  # noqa: ANN201
    steps = flow_steps(summary)
    ncols = max(len(steps), 1)
    depth = max((len(v) for v in steps.values()), default=1)
    fig, axes = subplots(1, ncols, width=min(DOUBLE_COLUMN, 2.4 * ncols + 0.4), height=0.9 * depth + 0.6, squeeze=False)
    with plt.rc_context(RC):
        for ax, (cohort, chain) in zip(axes.ravel(), steps.items(), strict=False):
            ax.set_xlim(0, 1)
            ax.set_ylim(-len(chain), 0.6)
            ax.axis("off")
            ax.set_title(cohort, fontweight="bold")
            for i, step in enumerate(chain):
                y = -i
                n = "?" if step["n"] is None else step["n"]
                ax.text(0.3, y, f"{step['stage']}\nn = {n}", ha="center", va="center",
                        bbox={"boxstyle": "round", "fc": "#e8f0fb", "ec": "0.3", "lw": 0.6})
                if step["exclusions"]:
                    text = "\n".join(f"{r}: {k}" for r, k in step["exclusions"])
                    ax.text(0.62, y - 0.5, "excluded\n" + text, ha="left", va="center", fontsize=6,
                            bbox={"boxstyle": "square", "fc": "#fdeeee", "ec": "0.5", "lw": 0.5})
                if i + 1 < len(chain):
                    ax.annotate("", xy=(0.3, y - 0.75), xytext=(0.3, y - 0.25),
                                arrowprops={"arrowstyle": "->", "lw": 0.7})
        for ax in axes.ravel()[len(steps):]:
            ax.axis("off")
        fig.tight_layout()
    return fig
