"""Quality on clean atlas-space data: the demo's model and training recipe on a cohort drawn with
the generator's own anatomy, tumour model and latents, but without scanners, native geometry or
preprocessing (:func:`glioma.experiments.synthetic.make_atlas_cohort`, generator appearance).

It separates what the network and the recipe can learn from what the raw-data path (acquisition,
registration, skull stripping, normalisation) costs: the demo's ``model_vs_oracle.csv`` measures
both together. Prints, per task, the model's test AUC next to the generator's oracle AUC on the
same test patients, the mean whole-tumour Dice and the training time; then two logistic
regressions fitted on the same training patients, one on the true latents and one on five numbers
measured inside the reference tumour, to compare with what this many patients can teach.

    python benchmarks/bench_quality_atlas.py                       # 90 train, 100 test, 3 mm (~10 min)
    python benchmarks/bench_quality_atlas.py --override '{"model": {"base_filters": 8}}'
    python benchmarks/bench_quality_atlas.py --train 8 --test 6 --resolution 6 --epochs 1   # smoke

``--override`` is merged into the ``model:`` / ``train:`` sections of ``--config`` (default: the
demo's ``config/config.yaml``). Cohorts are cached under ``--root`` by their size, resolution and
seed, trained runs by their settings (and ``--tag``: name a code change so it trains afresh).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _aucs(truth, pred) -> dict[str, tuple[float, float]]:  # noqa: ANN001 - pandas frames
    from sklearn.metrics import roc_auc_score

    from glioma.synth.labels import label_posterior

    latents = [c for c in truth.columns if c.startswith("latent_")]
    frame = truth.merge(pred, on="subject", suffixes=("", "_pred"))
    oracle = [label_posterior({c.removeprefix("latent_"): row[c] for c in latents}) for _, row in frame.iterrows()]
    out: dict[str, tuple[float, float]] = {}
    for task, label, score, post in (("IDH", "idh", "score_idh_mutated", "oracle_p_idh_mutated"),
                                     ("1p19q", "codeletion", "score_1p19q_codeleted", "oracle_p_1p19q_codeleted")):
        y = frame[label].astype(int)
        if y.nunique() == 2:
            out[task] = (float(roc_auc_score(y, frame[score])), float(roc_auc_score(y, [o[post] for o in oracle])))
    grades = frame["grade"].astype(int)
    if grades.nunique() == 3:
        model = frame[["score_grade_2", "score_grade_3", "score_grade_4"]].to_numpy()
        model = model / model.sum(axis=1, keepdims=True)
        best = [[o[f"oracle_p_grade_{g}"] for g in (2, 3, 4)] for o in oracle]
        out["grade"] = (float(roc_auc_score(grades, model, multi_class="ovo", labels=[2, 3, 4])),
                        float(roc_auc_score(grades, best, multi_class="ovo", labels=[2, 3, 4])))
    return out


#: what a reader measures inside the reference tumour for each of the generator's binary signs
#: (percentiles of the z-scored atlas-space scans; the sign's direction is learnt by the fit)
SIGN_FEATURES: tuple[str, ...] = ("enhancement: p99(T1c - T1)", "necrosis: p1(T1)",
                                  "mismatch: p90(T2 - FLAIR)", "calcification: p1(T2)", "log tumour volume")


def _sign_features(folder: Path) -> list[float]:
    import nibabel as nib
    import numpy as np

    scans = {name: np.asarray(nib.load(str(folder / f"{name}.nii.gz")).dataobj, dtype=np.float32)
             for name in ("t1", "t1c", "t2", "flair")}
    tumour = np.asarray(nib.load(str(folder / "seg.nii.gz")).dataobj) > 0
    if not tumour.any():
        raise ValueError(f"{folder}: empty reference segmentation")
    s = {name: volume[tumour] for name, volume in scans.items()}
    return [float(np.percentile(s["t1c"] - s["t1"], 99)), float(np.percentile(s["t1"], 1)),
            float(np.percentile(s["t2"] - s["flair"], 90)), float(np.percentile(s["t2"], 1)),
            float(np.log(tumour.sum()))]


def _reader_baselines(cohort: Path) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Test AUCs of a logistic regression (C = 1, standardised inputs) fitted on the training
    patients, per reader: on the generator's true latents (a perfect reader), and on five numbers
    measured in each patient's reference tumour (:data:`SIGN_FEATURES`); a task whose labels miss
    a class is left out. Second, the AUC of each measure for its own binary sign over all
    patients (how visible the sign is, whichever direction)."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    truth = {fold: pd.read_csv(cohort / "truth" / fold / "labels.tsv", sep="\t", dtype={"subject": str})
             for fold in ("atlas_train", "atlas_test")}
    latents = [c for c in truth["atlas_train"].columns if c.startswith("latent_")]
    inputs = {
        "true latents": {fold: frame[latents].to_numpy(float) for fold, frame in truth.items()},
        "measured signs": {fold: np.array([_sign_features(cohort / "preprocess" / fold / s) for s in frame["subject"]])
                           for fold, frame in truth.items()},
    }
    out: dict[str, dict[str, float]] = {}
    detectability: dict[str, float] = {}
    both = pd.concat(truth.values(), ignore_index=True)
    measured = np.concatenate([inputs["measured signs"]["atlas_train"], inputs["measured signs"]["atlas_test"]])
    for column, sign in enumerate(("enhancing", "necrosis", "mismatch", "calcified")):
        present = both[f"latent_{sign}"].astype(int)
        if present.nunique() == 2:  # AUC of the measure for its own sign, either direction
            auc = float(roc_auc_score(present, measured[:, column]))
            detectability[sign] = max(auc, 1.0 - auc)
    for reader, x in inputs.items():
        out[reader] = {}
        for task, label in (("IDH", "idh"), ("1p19q", "codeletion"), ("grade", "grade")):
            y_train = truth["atlas_train"][label].astype(int)
            y_test = truth["atlas_test"][label].astype(int)
            if y_train.nunique() != y_test.nunique() or y_train.nunique() < 2:
                continue
            fit = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)).fit(x["atlas_train"], y_train)
            p = fit.predict_proba(x["atlas_test"])
            out[reader][task] = float(roc_auc_score(y_test, p[:, 1]) if p.shape[1] == 2
                                      else roc_auc_score(y_test, p, multi_class="ovo"))
    return out, detectability


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--override", default="{}", help="JSON merged into model:/train:")
    parser.add_argument("--train", type=int, default=90)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--resolution", type=float, default=3.0)
    parser.add_argument("--epochs", type=int, default=None, help="default: train.max_epochs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--root", default="results/benchmarks/quality_atlas")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--tag", default="", help="part of the run's cache key: a code change under test")
    args = parser.parse_args()

    import nibabel as nib
    import numpy as np
    import pandas as pd
    import torch
    import yaml

    from glioma.experiments.config import run_spec
    from glioma.experiments.runs import train_experiment_run
    from glioma.experiments.synthetic import make_atlas_cohort
    from glioma.io.atomic import write_json, write_table
    from glioma.model.infer import predict_cohort

    torch.set_num_threads(args.threads)
    cohort = Path(args.root) / f"n{args.train}-{args.test}_{args.resolution:g}mm"
    if not (cohort / "splits.tsv").is_file():
        train = make_atlas_cohort(cohort, "atlas_train", args.train, resolution_mm=args.resolution, seed=1,
                                  noise=0.05, progress=True)
        test = make_atlas_cohort(cohort, "atlas_test", args.test, resolution_mm=args.resolution, seed=2,
                                 noise=0.05, fold="test", first_id=5001, progress=True)
        write_table(cohort / "splits.tsv", pd.concat([train, test], ignore_index=True))
    splits = pd.read_csv(cohort / "splits.tsv", sep="\t", dtype=str, keep_default_na=False)
    base = yaml.safe_load(Path(args.config).read_text())
    override = json.loads(args.override)
    config = {section: {**(base.get(section) or {}), **override.get(section, {})} for section in ("model", "train")}
    config["train"]["progress_bar"] = False
    config["train"]["threads"] = args.threads
    key = json.dumps([config, args.epochs] + ([args.tag] if args.tag else []), sort_keys=True)
    key = hashlib.sha1(key.encode()).hexdigest()[:10]
    run = Path(args.root) / "runs" / f"{cohort.name}_{key}"
    started = time.perf_counter()
    model_dir = train_experiment_run(config, run_spec("ablation", "reference", {}), cohort / "splits.tsv",
                                     cohort / "preprocess", run / "train", epochs=args.epochs)
    seconds = time.perf_counter() - started
    predict_cohort(model_dir, splits, "atlas_test", cohort / "preprocess", run / "infer", native=False,
                   prognosais=False, threads=args.threads)
    pred = pd.read_csv(run / "infer" / "predictions.csv", dtype={"subject": str})
    truth = pd.read_csv(cohort / "truth" / "atlas_test" / "labels.tsv", sep="\t", dtype={"subject": str})
    aucs = _aucs(truth, pred)
    dice = []
    for subject in pred["subject"]:
        a = np.asarray(nib.load(str(run / "infer" / subject / "seg.nii.gz")).dataobj) > 0
        b = np.asarray(nib.load(str(cohort / "preprocess" / "atlas_test" / subject / "seg.nii.gz")).dataobj) > 0
        dice.append(2.0 * (a & b).sum() / max(int(a.sum() + b.sum()), 1))
    history = pd.read_csv(model_dir / "metrics.csv")
    print(f"atlas-space cohort: {args.train} train, {args.test} test, {args.resolution:g} mm; "
          f"override {json.dumps(override)}; {len(history)} epochs in {seconds / 60:.1f} min")
    print(f"{'task':8s}{'model AUC':>11s}{'oracle AUC':>12s}{'gap':>8s}")
    for task, (model, oracle) in aucs.items():
        print(f"{task:8s}{model:11.3f}{oracle:12.3f}{oracle - model:8.3f}")
    print(f"{'dice':8s}{float(np.mean(dice)):11.3f}{1.0:12.3f}")
    readers, detect = _reader_baselines(cohort)
    print(f"logistic regressions fitted on the {args.train} training patients (test AUC):")
    print(f"{'task':8s}" + "".join(f"{name:>16s}" for name in readers))
    for task in aucs:
        print(f"{task:8s}" + "".join(f"{readers[name].get(task, float('nan')):16.3f}" for name in readers))
    print("measured signs: " + "; ".join(SIGN_FEATURES) + " (inside the reference tumour)")
    print("AUC of each measure for its own sign (all patients): "
          + ", ".join(f"{sign} {auc:.3f}" for sign, auc in detect.items()))
    print(f"training loss: first epoch {history['train_loss'].iloc[0]:.3f}, last {history['train_loss'].iloc[-1]:.3f}")
    if args.json:
        write_json(args.json, {"aucs": aucs, "readers": readers, "sign_detectability": detect,
                               "dice": float(np.mean(dice)), "train_seconds": seconds,
                               "epochs": len(history), "override": override})
    sys.stdout.flush()


if __name__ == "__main__":
    main()
