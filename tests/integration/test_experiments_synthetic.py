"""Structural checks of the experiments on synthetic data (trained models, CPU).

A tiny cohort is drawn from the synthetic generator's anatomy and tumour model
(:func:`glioma.experiments.synthetic.make_atlas_cohort`, 5 mm, ``enhancement_grade``: a tumour
enhances exactly when it is grade IV (the generator's patchy enhancement; no necrosis), while
volume and edema do not depend on the class, so enhancement, bright on T1c, is the one image
feature carrying grade). The cohort holds grades II and IV only: grade III would look exactly
like grade II, and its share of the grade loss could only be lowered by memorising training
patients (README, *Structural checks*). The full model and the four sequence ablations are
trained through the experiment code path (``train_experiment_run`` -> ``final_run``), predicted
with ``predict_cohort`` and compared with ``compare_runs``. Asserted:

* removing T1c hurts grade prediction most (the grade IV and LGG-vs-HGG AUCs of ``no_t1c`` are
  the lowest of the four ablations, and clearly below the full model);
* the full model's grade IV saliency concentrates on the enhancing tumour (the share of
  saliency mass there is over three times its share of the brain volume, uniform = 1, and more
  enriched than the whole tumour), and the pre/post-contrast pair T1 and T1c, whose difference
  is enhancement, carries most of it (T1c above a uniform share).

Nothing here knows the answer: models are trained from scratch with one seed for all runs.
Runtime about 8-13 min on 2 shared CPU cores (one thread; 90-160 s per trained run).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch

from glioma.experiments.compare import RunResult, compare_runs
from glioma.experiments.config import run_spec
from glioma.experiments.runs import train_experiment_run
from glioma.experiments.saliency import mass_enrichment, patient_saliency
from glioma.experiments.synthetic import make_atlas_cohort
from glioma.io.atomic import write_table
from glioma.model.artefact import load_artefact
from glioma.model.infer import predict_cohort
from glioma.schema import SEQUENCES

pytestmark = pytest.mark.slow

#: the eight classes of glioma.synth.labels.CLASSES without the grade III ones (no image signal
#: tells them from grade II here); grade IV 40%, so that a small cohort has enough of it
PRIOR = (0.15, 0.0, 0.3, 0.15, 0.0, 0.1, 0.3, 0.0)
CONFIG = {
    "model": {"base_filters": 8, "depth": 3, "first_kernel": 5, "first_stride": 3,
              "dense_units": 16, "dropout": 0.0, "norm": "instance", "head_activation": "leaky_relu"},
    # IDH and 1p/19q carry no image signal in this cohort: their heads are not trained
    "train": {"max_epochs": 40, "batch_size": 4, "lr": 8e-3, "threads": 1, "progress_bar": False,
              "seg_loss": "dice_ce",
              "task_weights": {"idh": 0.0, "codeletion": 0.0, "grade": 1.0, "seg": 1.0},
              "augmentation": {"enabled": False}, "seed": 42},
}
RUNS = {"full": {}, **{f"no_{s}": {"drop_sequences": [s]} for s in SEQUENCES}}


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("experiments")
    train = make_atlas_cohort(root, "syntrain", 48, resolution_mm=5.0, seed=1, prior=PRIOR,
                              appearance="enhancement_grade")
    test = make_atlas_cohort(root, "syntest", 100, resolution_mm=5.0, seed=2, prior=PRIOR,
                             appearance="enhancement_grade", fold="test")
    splits_path = root / "splits.tsv"
    splits = pd.concat([train, test], ignore_index=True)
    write_table(splits_path, splits)
    results = []
    for name, values in RUNS.items():
        spec = run_spec("ablation", "reference" if name == "full" else name, values)
        model_dir = train_experiment_run(CONFIG, spec, splits_path, root / "preprocess",
                                         root / name / "train")
        predict_cohort(model_dir, splits, "syntest", root / "preprocess", root / name / "infer",
                       native=False, prognosais=False, threads=1)
        results.append(RunResult(name, root / name / "infer" / "predictions.csv", model_dir))
    table = compare_runs(results, experiment="ablation", cohort="syntest",
                         preprocess_root=root / "preprocess", n_resamples=200)
    return root, table


# Why this setting (README, Structural checks; measured 2026-12-01, seeds x runs): a single run
# either finds the enhancement or stays on the chance plateau, where every globally max-pooled
# feature sits on healthy anatomy that all patients of this cohort share, so its gradient cancels
# over the classes. With grade III in the cohort (it looks exactly like grade II here) the grade
# loss could be lowered only by memorising patients, and runs fitted the training set without
# finding the enhancement (test grade IV AUC 0.5-0.67 at training loss 0.2-0.45). Without grade
# III, 4 base filters escaped in 9 of 11 runs with the information (one more reached 0.76), the
# no_t1 run in 3 of 5 seeds and not at seed 42 (0.51): without T1 only a filter that weighs T1c
# above T2/FLAIR peaks on the enhancement, and 4 filters often hold none. 8 base filters: 6 of
# 6 (full, no_t1 at three seeds, no_t2, no_flair); the README has the table.
def test_removing_t1c_hurts_grade_most(ablation):
    _root, table = ablation
    auc = table.pivot(index="run", columns="task", values="value")
    print(auc.round(3).to_string())  # noqa: T201 - shown with -s for the record
    ablated = auc.drop(index="full")
    # grades II and IV only: the II/III/IV AUC is undefined (NaN), LGG vs HGG is II vs IV
    assert auc["grade"].isna().all()
    for task in ("grade_IV", "LGG_vs_HGG"):
        assert ablated[task].idxmin() == "no_t1c", f"{task}: {ablated[task].to_dict()}"
    assert auc.loc["full", "grade_IV"] > 0.85
    assert auc.loc["full", "grade_IV"] - auc.loc["no_t1c", "grade_IV"] > 0.15
    assert (table["training_patients"] == 48).all()


def test_grade_iv_saliency_concentrates_on_enhancing_rim(ablation):
    root, _table = ablation
    net, _info = load_artefact(root / "full" / "train")
    labels = pd.read_csv(root / "truth" / "syntest" / "labels.tsv", sep="\t", dtype={"subject": str})
    enrichments, tumour_enrichments, t1c_share, seq_shares = [], [], [], []
    for subject in labels.loc[labels["grade"] == 4, "subject"][:8]:
        weight = np.asarray(nib.load(str(root / "truth" / "syntest" / subject / "enhancing.nii.gz")).dataobj)
        rim = weight > 0.5  # the enhancing component (patchy: no necrosis in this cohort)
        if rim.sum() < 5:
            continue
        # attribution of the grade IV score (class index 2), whatever the prediction
        case = patient_saliency(net, root / "preprocess" / "syntest" / subject, subject,
                                tasks=("grade",), targets={"grade": 2})
        sal = case["saliency"]["grade"]["map"]
        _mass, _volume, ratio = mass_enrichment(sal, rim, case["brain"])
        enrichments.append(ratio)
        tumour_enrichments.append(mass_enrichment(sal, case["tumour"], case["brain"])[2])
        per_seq = sal[:, case["brain"]].sum(axis=1)
        t1c_share.append(per_seq[SEQUENCES.index("t1c")] / per_seq.sum())
        seq_shares.append(per_seq / per_seq.sum())
    print("enhancing enrichment", np.round(enrichments, 2), "tumour", np.round(tumour_enrichments, 2),  # noqa: T201
          "T1c share", np.round(t1c_share, 2))
    assert len(enrichments) >= 4
    assert np.median(enrichments) > 3.0  # uniform saliency: 1
    # concentrated on the enhancing part, not merely on the tumour
    assert np.median(enrichments) > np.median(tumour_enrichments)
    # by sequence: enhancement is T1c bright where T1 is not, and the model reads it as that
    # difference, so T1 and T1c together carry most of the saliency (measured 2026-12-01: median
    # shares T1 0.44, T1c 0.34, T2 0.14, FLAIR 0.09). Saliency is sensitivity, not necessity:
    # the ablation shows that grade needs T1c and not T1.
    shares = np.median(np.array(seq_shares), axis=0)
    t1, t1c, t2, flair = (shares[SEQUENCES.index(s)] for s in ("t1", "t1c", "t2", "flair"))
    assert np.median(t1c_share) > 0.25  # of four sequences: uniform would be 0.25
    assert t1 + t1c > 0.6 and t1 + t1c > 2 * (t2 + flair)
