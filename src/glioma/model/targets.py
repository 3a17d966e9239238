"""Output paths of the cohort/train/infer rules, shared by the rule files and the tests."""

from __future__ import annotations

from collections.abc import Iterable

SPLITS = "results/cohort/splits.tsv"
SELECT_DIR = "results/train/select"
FINAL_DIR = "results/train/final"
FINAL_FILES: dict[str, str] = {
    "weights": "model.pt",
    "info": "model.json",
    "card": "MODEL_CARD.md",
    "metrics": "metrics.csv",
    "config": "config.yaml",
    "run_info": "run_info.json",
    "result": "result.json",
}


def final_outputs(folder: str = FINAL_DIR) -> dict[str, str]:
    """Named outputs of the final training (the model artefact and its run records)."""
    return {key: f"{folder}/{name}" for key, name in FINAL_FILES.items()}


def infer_outputs(cohort: str) -> dict[str, str]:
    folder = f"results/infer/{cohort}"
    return {
        "predictions": f"{folder}/predictions.csv",
        "prognosais": f"{folder}/predictions_prognosais.csv",
        "excluded": f"{folder}/excluded.tsv",
    }


def model_targets(test_cohorts: Iterable[str], synthetic_test_cohorts: Iterable[str] = ()) -> list[str]:
    """Everything `make demo` needs from these stages: splits, final model, predictions and,
    for synthetic test cohorts, the comparison with the generator's oracle."""
    targets = [SPLITS, *final_outputs().values()]
    for cohort in test_cohorts:
        targets += list(infer_outputs(cohort).values())
    targets += [f"results/evaluate/{c}/model_vs_oracle.csv" for c in synthetic_test_cohorts]
    return targets
