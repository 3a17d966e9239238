"""Fig. 3 (ROC curves with the argmax decision marked) and confusion-matrix figures."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from glioma.evaluate.classification import TaskData
from glioma.plots.style import DOUBLE_COLUMN, RC, plt, subplots

GRADE_NAMES = {2: "II", 3: "III", 4: "IV"}


def _point(y: np.ndarray, decision: np.ndarray) -> tuple[float, float]:
    pos = y == 1
    return float(np.mean(decision[~pos] == 1)), float(np.mean(decision[pos] == 1))


def roc_figure(tasks: list[TaskData], aucs: dict[tuple[str, str], float] | None = None):  # noqa: ANN201
    """One panel per binary task (the grade task shows its three one-vs-rest curves).

    The marker on each curve is the operating point of the argmax decision.
    """
    aucs = aucs or {}
    shown = [t for t in tasks if not t.task.startswith("grade_")]
    ncols = 4
    nrows = int(np.ceil(len(shown) / ncols))
    fig, axes = subplots(nrows, ncols, width=DOUBLE_COLUMN, height=1.9 * nrows, squeeze=False)
    with plt.rc_context(RC):
        for ax in axes.ravel()[len(shown):]:
            ax.axis("off")
        for ax, t in zip(axes.ravel(), shown, strict=False):
            ax.plot([0, 1], [0, 1], color="0.7", lw=0.6, ls=":")
            if t.multiclass:
                for k, color in zip((2, 3, 4), ("C0", "C1", "C3"), strict=True):
                    y = (t.y == k).astype(int)
                    if np.unique(y).size < 2:
                        continue
                    fpr, tpr, _ = roc_curve(y, t.score[:, k - 2])
                    ax.plot(fpr, tpr, color=color, lw=1.0, label=f"grade {GRADE_NAMES[k]}")
                    x0, y0 = _point(y, (t.decision == k).astype(int))
                    ax.plot(x0, y0, "o", color=color, ms=3.5, mec="k", mew=0.4)
                ax.legend(loc="lower right", frameon=False)
            elif np.unique(t.y).size == 2:
                fpr, tpr, _ = roc_curve(t.y, t.score)
                ax.plot(fpr, tpr, color="C0", lw=1.0)
                x0, y0 = _point(t.y, t.decision)
                ax.plot(x0, y0, "o", color="C3", ms=3.5, mec="k", mew=0.4, label="argmax decision")
                ax.legend(loc="lower right", frameon=False)
            auc = aucs.get((t.group, t.task))
            title = t.label if auc is None or np.isnan(auc) else f"{t.label}\nAUC {auc:.2f} (n={t.y.size})"
            ax.set_title(title)
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.02, 1.02)
            ax.set_aspect("equal")
            ax.set_xlabel("1 - specificity")
            ax.set_ylabel("sensitivity")
        fig.tight_layout()
    return fig


def confusion_figure(matrix: pd.DataFrame, title: str):  # noqa: ANN201
    """Counts (and row percentages) with truth on the rows and predictions on the columns."""
    k = matrix.shape[0]
    size = 2.6 if k <= 3 else 4.6
    fig, ax = subplots(1, 1, width=size + 0.6, height=size)
    values = matrix.to_numpy()
    rows = values.sum(axis=1, keepdims=True)
    frac = np.divide(values, rows, out=np.zeros_like(values, dtype=float), where=rows > 0)
    with plt.rc_context(RC):
        im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{values[i, j]}\n({100 * frac[i, j]:.0f}%)", ha="center", va="center",
                        color="white" if frac[i, j] > 0.6 else "black", fontsize=6.5 if k > 3 else 7.5)
        labels = [textwrap.fill(str(c), 24) for c in matrix.columns]
        ax.set_xticks(range(k), labels, rotation=35 if k > 3 else 0, ha="right" if k > 3 else "center")
        ax.set_yticks(range(k), [textwrap.fill(str(c), 24) for c in matrix.index])
        ax.set_xlabel("prediction")
        ax.set_ylabel("ground truth")
        ax.set_title(f"{title} (n={int(values.sum())})")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
        fig.tight_layout()
    return fig
