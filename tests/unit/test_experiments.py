"""Unit tests of glioma.experiments: run specs, subsets, comparison, saliency, robustness."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from glioma.data.splits import SPLIT_COLUMNS
from glioma.errors import InputError
from glioma.experiments.compare import RunResult, compare_runs, mean_with_ci
from glioma.experiments.config import experiment_runs, run_spec
from glioma.experiments.robustness import confidently_wrong, noise_index
from glioma.experiments.runs import subset_splits
from glioma.experiments.saliency import choose_patients, feature_maps, mass_enrichment, saliency_map
from glioma.model.network import NetworkConfig, PSNet
from glioma.schema import PREDICTION_COLUMNS, PREPROCESS_FILES, SEQUENCES

REPO = Path(__file__).resolve().parents[2]
TINY = NetworkConfig(base_filters=2, depth=2, first_kernel=3, first_stride=2, dense_units=4,
                     dropout=0.0, norm="instance")


def _splits(n_train: int = 40, n_test: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_train + n_test):
        test = i >= n_train
        cohort = "test" if test else ("a" if i % 2 else "b")
        rows.append({"cohort": cohort, "subject": f"{i:04d}", "role": "test" if test else "train",
                     "fold": "test" if test else ("val" if i % 7 == 0 else "train"),
                     "idh": str(rng.integers(0, 2)), "codeletion": "0", "grade": str(rng.integers(2, 5)),
                     "segmentation": "manual", "institute": f"{cohort}-x"})
    return pd.DataFrame(rows, columns=list(SPLIT_COLUMNS))


def test_workflow_config_runs_are_valid():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    runs = experiment_runs(config)
    assert {r.drop_sequences for r in runs["ablation"].values()} == {(s,) for s in SEQUENCES}
    assert runs["subsets"]["frac25"].fraction == 0.25
    # the rerun fingerprint: a run's subset and settings, not its figure label
    frac = runs["subsets"]["frac25"]
    assert frac.fingerprint()["fraction"] == 0.25 and "description" not in frac.fingerprint()
    relabelled = experiment_runs({**config, "experiments": {**config["experiments"], "subsets": {
        "runs": {"frac25": {"fraction": 0.25, "description": "a quarter"}}}}})["subsets"]["frac25"]
    assert relabelled.fingerprint() == frac.fingerprint()
    assert runs["ablation"]["no_t1c"].fingerprint()["drop_sequences"] == ("t1c",)


@pytest.mark.parametrize("values, message", [
    ({"drop_sequences": ["t3"]}, "unknown sequences"),
    ({"drop_sequences": list(SEQUENCES)}, "every sequence"),
    ({"fraction": 0}, "fraction"),
    ({"colour": 1}, "unknown keys"),
])
def test_run_spec_rejects_bad_entries(values, message):
    with pytest.raises(ValueError, match=message):
        run_spec("ablation", "x", values)
    with pytest.raises(ValueError, match="run name"):
        run_spec("ablation", "full", {})


def test_subset_by_cohort_and_fraction_keeps_test_set():
    splits = _splits()
    only_a = subset_splits(splits, run_spec("subsets", "a", {"cohorts": ["a"]}))
    assert set(only_a.loc[only_a["role"] == "train", "cohort"]) == {"a"}
    assert (only_a["fold"] == "test").sum() == 10
    half = subset_splits(splits, run_spec("subsets", "h", {"fraction": 0.5, "seed": 3}))
    assert (half["role"] == "train").sum() == 20
    again = subset_splits(splits, run_spec("subsets", "h", {"fraction": 0.5, "seed": 3}))
    assert half["subject"].tolist() == again["subject"].tolist()
    other = subset_splits(splits, run_spec("subsets", "h", {"fraction": 0.5, "seed": 4}))
    assert half["subject"].tolist() != other["subject"].tolist()
    assert half["subject"].map(type).eq(str).all()
    with pytest.raises(InputError, match="cohorts"):
        subset_splits(splits, run_spec("subsets", "z", {"cohorts": ["zzz"]}))


def test_dropped_sequence_has_no_influence_and_no_gradient():
    torch.manual_seed(0)
    net = PSNet(NetworkConfig(**{**TINY.to_dict(), "drop_sequences": ("t1c",)})).eval()
    x = torch.randn(1, 4, 12, 12, 12)
    y = x.clone()
    y[:, 1] = torch.randn(12, 12, 12) * 5
    assert torch.allclose(net(x)["grade"], net(y)["grade"])
    sal, target, score = saliency_map(net, x[0].numpy(), "grade")
    assert sal.shape == (4, 12, 12, 12) and 0 <= target < 3 and 0 < score <= 1
    assert sal[1].max() == 0 and sal[0].max() > 0
    assert NetworkConfig.from_dict(json.loads(json.dumps(net.config.to_dict()))) == net.config


def test_mass_enrichment():
    sal = np.zeros((10, 10, 10))
    region = np.zeros_like(sal, bool)
    region[:2] = True  # 20% of the volume
    sal[:2] = 1.0  # all the mass
    mass, volume, ratio = mass_enrichment(sal, region)
    assert (mass, volume) == (1.0, 0.2) and ratio == pytest.approx(5.0)
    uniform = mass_enrichment(np.ones((2, 10, 10, 10)), region)
    assert uniform[2] == pytest.approx(1.0)


def test_feature_maps_shape_and_errors():
    net = PSNet(TINY).eval()
    image = np.random.default_rng(0).normal(size=(4, 12, 12, 12)).astype(np.float32)
    maps = feature_maps(net, image, "encoders.0", [0, 1])
    assert maps.shape == (2, 12, 12, 12)
    with pytest.raises(ValueError, match="no layer"):
        feature_maps(net, image, "nope", [0])
    with pytest.raises(ValueError, match="filters"):
        feature_maps(net, image, "encoders.0", [9])


def _predictions(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        grade = [2, 3, 4][i % 3]
        idh = int(grade < 4)
        s_idh = np.clip(0.5 + (0.3 if idh else -0.3) + rng.normal(0, 0.2), 0.01, 0.99)
        g = rng.dirichlet([1, 1, 1]) * 0.5
        g[grade - 2] += 0.5
        rows.append({"cohort": "c", "subject": f"{i:04d}", "idh": str(idh), "codeletion": "0",
                     "grade": str(grade), "score_idh_wildtype": 1 - s_idh, "score_idh_mutated": s_idh,
                     "score_1p19q_intact": 0.7, "score_1p19q_codeleted": 0.3,
                     "score_grade_2": g[0], "score_grade_3": g[1], "score_grade_4": g[2]})
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))


def test_confidently_wrong_and_choose_patients():
    frame = _predictions()
    frame.loc[0, ["score_idh_wildtype", "score_idh_mutated"]] = [0.999, 0.001]  # idh 1 -> wrong
    wrong = confidently_wrong(frame.astype({c: str for c in ("idh", "codeletion", "grade")}), 3)
    assert wrong.iloc[0]["subject"] == "0000" and wrong.iloc[0]["confidence"] == pytest.approx(0.999)
    assert wrong["subject"].is_unique and 1 <= len(wrong) <= 3
    assert wrong["confidence"].is_monotonic_decreasing
    chosen = choose_patients(frame)
    assert frame.set_index("subject").loc[chosen[0], "grade"] in ("2", "3")
    assert frame.set_index("subject").loc[chosen[1], "grade"] == "4"
    assert choose_patients(frame, ["0005"]) == ["0005"]
    with pytest.raises(InputError):
        choose_patients(frame, ["9999"])


def _write(volume: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), str(path))


def test_noise_index_ranks_noisier_scan_higher(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.fromfunction(lambda x, y, z: np.sin(x / 4) + np.cos(y / 5), (20, 20, 20)).astype(np.float32)
    values = {}
    for subject, sigma in (("0001", 0.05), ("0002", 0.5)):
        folder = tmp_path / subject
        _write(np.ones((20, 20, 20), np.uint8), folder / PREPROCESS_FILES["brain_mask"])
        for seq in SEQUENCES:
            _write((smooth + rng.normal(0, sigma, smooth.shape)).astype(np.float32), folder / PREPROCESS_FILES[seq])
        values[subject] = noise_index(folder, subject)
    assert values["0002"] > 5 * values["0001"]
    with pytest.raises(InputError):
        noise_index(tmp_path / "0003", "0003")


def test_compare_runs_table(tmp_path):
    rows = {}
    for name, seed in (("full", 0), ("worse", 1)):
        frame = _predictions(seed=seed)
        if name == "worse":  # scramble grade scores: AUC about 0.5
            frame[["score_grade_2", "score_grade_3", "score_grade_4"]] = np.random.default_rng(5).dirichlet([1, 1, 1], len(frame))
        path = tmp_path / name / "predictions.csv"
        path.parent.mkdir()
        frame.to_csv(path, index=False)
        rows[name] = RunResult(name, path, tmp_path / name)
    table = compare_runs(list(rows.values()), experiment="ablation", cohort="c",
                         preprocess_root=tmp_path / "none", n_resamples=200)
    grade = table[table["task"] == "grade"].set_index("run")
    assert grade.loc["full", "value"] > grade.loc["worse", "value"] + 0.2
    assert (grade["ci_low"] <= grade["value"]).all() and (grade["value"] <= grade["ci_high"]).all()
    assert np.isnan(table.loc[table["task"] == "dice", "value"]).all()  # no segmentations
    est, low, high = mean_with_ci(np.array([0.5, 0.7, 0.9, np.nan]), n_resamples=500, seed=1)
    assert est == pytest.approx(0.7) and low < est < high


def test_targets_and_comparison_runs():
    from glioma.experiments import targets

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    runs = experiment_runs(config)
    entries = targets.comparison_runs(runs, "ablation", "demo_test")
    assert list(entries)[0] == "full" and entries["full"][0] == "results/infer/demo_test/predictions.csv"
    assert entries["no_t1c"][0] == "results/experiments/ablation/no_t1c/infer/demo_test/predictions.csv"
    files = targets.experiment_targets(["ablation", "saliency", "robustness"], ["c1"])
    assert "results/experiments/ablation/c1/comparison.csv" in files
    assert "results/experiments/robustness/c1/overlays.png" in files
    with pytest.raises(ValueError):
        targets.experiment_targets(["nope"], ["c1"])
