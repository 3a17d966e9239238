"""Output paths of the evaluation rules, shared by the rule files and the tests.

Kept in the package (not in a ``.smk``) so that the rule files hold only rules.
"""

from __future__ import annotations

from collections.abc import Iterable

CONFUSION_NAMES: tuple[str, ...] = ("idh", "1p19q", "grade", "who2016", "who2021")


def table2_outputs(folder: str) -> dict[str, str]:
    return {
        "table2": f"{folder}/table2.csv",
        "table2_formatted": f"{folder}/table2_formatted.csv",
        "roc": f"{folder}/roc.png",
        "roc_pdf": f"{folder}/roc.pdf",
    }


def subtype_outputs(folder: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in CONFUSION_NAMES:
        out[f"confusion_{name}"] = f"{folder}/confusion_{name}.csv"
        out[f"confusion_{name}_png"] = f"{folder}/confusion_{name}.png"
        out[f"confusion_{name}_pdf"] = f"{folder}/confusion_{name}.pdf"
    out["performance"] = f"{folder}/subtype_performance.csv"
    out["appendix_e"] = f"{folder}/appendix_e_predictions.csv"
    return out


def survival_outputs(folder: str) -> dict[str, str]:
    return {"logrank": f"{folder}/survival_logrank.csv", "km": f"{folder}/survival_km.png", "km_pdf": f"{folder}/survival_km.pdf"}


def paper_targets(folder: str = "results/paper") -> list[str]:
    """Every file of the paper-predictions target."""
    return [*table2_outputs(folder).values(), *subtype_outputs(folder).values(), *survival_outputs(folder).values()]


def cohort_targets(cohort: str) -> list[str]:
    """Every evaluation file of one test cohort (needs inference and preprocessing outputs)."""
    folder = f"results/evaluate/{cohort}"
    return [
        *table2_outputs(folder).values(),
        *subtype_outputs(folder).values(),
        *survival_outputs(folder).values(),
        f"{folder}/segmentation_metrics.tsv",
        f"{folder}/segmentation_boxplot.png",
        f"{folder}/segmentation_boxplot.pdf",
        f"{folder}/overlays.png",
        f"{folder}/overlays.pdf",
    ]


def evaluate_targets(test_cohorts: Iterable[str]) -> list[str]:
    """Table 1, Fig. 2 and the evaluation of every test cohort: what ``rule all`` should ask for."""
    targets = ["results/evaluate/table1.csv", "results/evaluate/flowchart.png", "results/evaluate/flowchart.pdf"]
    for cohort in test_cohorts:
        targets += cohort_targets(cohort)
    return targets
