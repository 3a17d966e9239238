"""Output paths of the experiment rules, shared by workflow/rules/experiments.smk and the tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from glioma.experiments.config import REFERENCE_RUN, TRAINED_EXPERIMENTS, RunSpec
from glioma.model import targets as model_paths

EXP_DIR = "results/experiments"
RUN_DIR = f"{EXP_DIR}/{{experiment}}/{{run}}"
ANALYSES: tuple[str, ...] = ("saliency", "robustness")
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    "ablation": ("comparison.csv", "comparison.png"),
    "subsets": ("comparison.csv", "comparison.png"),
    "saliency": ("saliency.csv", "saliency.png", "feature_maps.png"),
    "robustness": ("cases.csv", "overlays.png"),
}


def comparison_runs(runs: Mapping[str, Mapping[str, RunSpec]], experiment: str, cohort: str
                    ) -> dict[str, list[str]]:
    """run -> [predictions, model folder, description] of one experiment on one test cohort,
    the main model first (as run ``full``)."""
    out = {REFERENCE_RUN: [f"results/infer/{cohort}/predictions.csv", model_paths.FINAL_DIR,
                           "all sequences, all training data"]}
    for name, spec in runs[experiment].items():
        folder = f"{EXP_DIR}/{experiment}/{name}"
        out[name] = [f"{folder}/infer/{cohort}/predictions.csv", f"{folder}/train", spec.label()]
    return out


def experiment_targets(experiments: Iterable[str], cohorts: Iterable[str]) -> list[str]:
    """The files of the named targets (``ablation``, ``subsets``, ``saliency``, ``robustness``)."""
    experiments = list(experiments)
    unknown = sorted(set(experiments) - set(TRAINED_EXPERIMENTS) - set(ANALYSES))
    if unknown:
        raise ValueError(f"unknown experiments {unknown}")
    return [f"{EXP_DIR}/{experiment}/{cohort}/{name}"
            for cohort in cohorts for experiment in experiments
            for name in OUTPUT_NAMES[experiment]]
