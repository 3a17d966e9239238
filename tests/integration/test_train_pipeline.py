"""The chain of the cohort, train and infer stages through the `glioma` CLI on a toy cohort:
splits -> two selection runs -> summary -> final model -> test predictions -> model vs oracle,
and one experiment run through `glioma train experiment` (the command the srun ranks run)."""

import json

import pandas as pd
import pytest
import yaml

from glioma.cli import main
from glioma.data.toy import make_toy_cohort


@pytest.mark.slow
def test_cohort_train_predict_chain(tmp_path):
    pre, train_sheet = make_toy_cohort(tmp_path, "tr", 16, shape=(14, 16, 14), seed=1,
                                       unknown_fraction=0.3, seg_fraction=0.7)
    _, test_sheet = make_toy_cohort(tmp_path, "te", 6, shape=(14, 16, 14), seed=2, first_id=900)
    splits = tmp_path / "cohort" / "splits.tsv"
    assert main(["cohort", "--sheets", str(train_sheet), str(test_sheet), "--roles", "train", "test",
                 "--preprocess-root", str(pre), "--out", str(splits),
                 "--validation-fraction", "0.25"]) == 0
    config = {
        "seed": 1,
        "model": {"base_filters": 4, "depth": 3, "dense_units": 0, "dropout": 0.1, "norm": "instance"},
        "train": {"max_epochs": 4, "batch_size": 2, "lr": 3e-3, "threads": 1, "progress_bar": False,
                  "early_stopping_patience": 2, "grid": {"lr": [3e-3, 1e-3]}, "refit_heads": True},
        "experiments": {"ablation": {"runs": {"no_t2": {"drop_sequences": ["t2"]}}}},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    results = []
    for name in ("lr0.003", "lr0.001"):
        out = tmp_path / "select" / name
        assert main(["train", "select", "--config", str(config_path), "--splits", str(splits),
                     "--preprocess-root", str(pre), "--params", name, "--out", str(out)]) == 0
        results.append(str(out / "result.json"))
        metrics = pd.read_csv(out / "metrics.csv")
        assert {"train_loss", "val_loss", "val_loss_ma", "val_dice", "val_auc_idh"} <= set(metrics)
        info = json.loads((out / "run_info.json").read_text())
        assert info["seed"] == 1 and "git_revision" in info and "torch" in info
        assert info["precision"] == "32-true"  # the resolved Lightning precision
    summary = tmp_path / "select" / "summary.tsv"
    assert main(["train", "summarize", "--results", *results, "--out", str(summary)]) == 0
    table = pd.read_csv(summary, sep="\t")
    assert table["selected"].sum() == 1
    assert table.loc[table["selected"] == 1, "best_val_loss"].item() == table["best_val_loss"].min()
    final = tmp_path / "final"
    assert main(["train", "final", "--config", str(config_path), "--splits", str(splits),
                 "--preprocess-root", str(pre), "--summary", str(summary), "--out", str(final)]) == 0
    for name in ("model.pt", "model.json", "MODEL_CARD.md", "metrics.csv", "config.yaml",
                 "run_info.json", "result.json"):
        assert (final / name).is_file(), name
    best_epoch = int(table.loc[table["selected"] == 1, "best_epoch"].item())
    assert len(pd.read_csv(final / "metrics.csv")) == best_epoch + 1
    # the final run's training curve is checked against the selected run's, over its last epochs
    check = json.loads((final / "result.json").read_text())["curve_check"]
    chosen = table.loc[table["selected"] == 1, "params"].item()
    selected_curve = pd.read_csv(tmp_path / "select" / chosen / "metrics.csv").set_index("epoch")
    assert check["epochs"] == list(range(max(0, best_epoch - 2), best_epoch + 1))
    assert check["selection_train_loss"] == pytest.approx(
        selected_curve.loc[check["epochs"], "train_loss"].mean())
    assert check["status"] == ("ok" if check["ratio"] <= check["tolerance"] else "diverged")
    assert json.loads((final / "model.json").read_text())["training"]["curve_check"] == check
    assert "Final run vs selection run" in (final / "MODEL_CARD.md").read_text()
    # the linear heads were refitted on the known labels of the 16 training patients
    refit = json.loads((final / "model.json").read_text())["training"]["refit_heads"]
    assert "idh" in refit and set(refit) <= {"idh", "codeletion", "grade"}
    assert all(0 < fit["patients"] <= 16 and fit["C"] > 0 for fit in refit.values())
    assert "Heads refitted after training" in (final / "MODEL_CARD.md").read_text()
    # an experiment run: the selected recipe (lr, epochs) with the run's override, same artefact
    run_dir = tmp_path / "experiments" / "ablation" / "no_t2"
    assert main(["train", "experiment", "--config", str(config_path), "--experiment", "ablation",
                 "--run", "no_t2", "--splits", str(splits), "--preprocess-root", str(pre),
                 "--summary", str(summary), "--out", str(run_dir)]) == 0
    record = json.loads((run_dir / "run.json").read_text())
    assert record["overrides"] == {"drop_sequences": ["t2"]} and record["epochs"] == best_epoch + 1
    assert record["selected_params"] == json.loads((final / "result.json").read_text())["params"]
    assert len(pd.read_csv(run_dir / "metrics.csv")) == best_epoch + 1
    assert json.loads((run_dir / "model.json").read_text())["network"]["drop_sequences"] == ["t2"]
    oracle = tmp_path / "oracle_auc.json"
    oracle.write_text(json.dumps({"IDH": 0.9, "1p19q": 0.9, "grade": 0.8}))
    infer = tmp_path / "infer" / "te"
    mvo = tmp_path / "model_vs_oracle.csv"
    assert main(["predict", "--model", str(final), "--splits", str(splits), "--cohort", "te",
                 "--preprocess-root", str(pre), "--out", str(infer), "--no-native",
                 "--oracle", str(oracle), "--model-vs-oracle", str(mvo)]) == 0
    predictions = pd.read_csv(infer / "predictions.csv", dtype=str)
    assert len(predictions) == 6 and predictions["subject"].str.startswith("09").all()
    comparison = pd.read_csv(mvo)
    assert comparison["task"].tolist() == ["IDH", "1p19q", "grade", "dice"]
    assert 0 <= comparison.loc[3, "model_auc"] <= 1

    # one patient on its own (a clinician's case): the same scores as in the cohort run
    subject = predictions["subject"].iloc[0]
    single = tmp_path / "single"
    assert main(["predict", "--model", str(final), "--patient", str(pre / "te" / subject),
                 "--out", str(single), "--no-native"]) == 0
    one = pd.read_csv(single / "predictions.csv", dtype={"subject": str})
    assert one["subject"].tolist() == [subject]
    cohort_row = pd.read_csv(infer / "predictions.csv", dtype={"subject": str}).set_index("subject").loc[subject]
    for column in ("score_idh_mutated", "score_1p19q_codeleted", "score_grade_2", "score_grade_4"):
        assert one.loc[0, column] == pytest.approx(cohort_row[column], abs=1e-5)
    assert (single / "seg.nii.gz").is_file()
