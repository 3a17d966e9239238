"""A training recipe on the demo's own preprocessed cohort, scored against the generator's oracle.

After ``make demo`` (it needs ``results/cohort/splits.tsv``, ``results/preprocess/`` and the
synthetic test cohort's ``oracle.tsv``): trains one model with the workflow's final run
(:func:`glioma.model.train.final_run`: folds train + val, ``--epochs`` epochs, no validation, the
heads refitted where ``train.refit_heads``), with the demo config's ``model:`` and
``train:`` sections and ``--override`` merged in, then predicts every included test patient in
atlas space and prints the test AUC per task next to the oracle's on the same patients (as
``model_vs_oracle.csv``), the mean whole-tumour Dice, the patients with the lowest Dice and the
training minutes. ``--probe`` also fits logistic regressions on the network's pooled features
(what the dense heads see) of the training patients: how well those features carry grade (read
by a multinomial and by a cumulative-link regression), and each of the generator's latent signs,
on the test patients.

    python benchmarks/bench_demo_recipe.py --tag base                     # the committed recipe
    python benchmarks/bench_demo_recipe.py --tag s7 --override '{"train": {"seed": 7}}'
    python benchmarks/bench_demo_recipe.py --tag gw3 --threads 1 \\
        --override '{"train": {"task_weights": {"idh": 2.26, "codeletion": 3.38, "grade": 3, "seg": 1}}}'

Two runs at ``--threads 1`` side by side use both cores of a 2-core machine. Without the demo's
results it says so and exits 0 (``make bench`` runs it too). Run folders go under
``--out/<tag>``; a rerun with the same tag resumes or retrains as any training run does (its minutes
then count only what was left).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _fit_ordinal(x_train, y_train, l2: float = 3.0):  # noqa: ANN001, ANN202 - arrays in, a predictor out
    """A cumulative-link regression (the network's own :class:`OrdinalHead` over one linear
    score) on standardised features, L2 penalty ``l2`` on the score's weights (summed negative
    log-likelihood), fitted by L-BFGS; returns ``x -> (n, 3)`` grade probabilities."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from glioma.model.network import OrdinalHead

    mean, scale = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    z = torch.from_numpy((x_train - mean) / scale).double()
    y = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    head = OrdinalHead(torch.nn.Linear(z.shape[1], 1), 3).double()
    optimiser = torch.optim.LBFGS(head.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure():  # noqa: ANN202
        optimiser.zero_grad()
        loss = F.nll_loss(head(z), y, reduction="sum") + l2 * head.body.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)

    def predict(x):  # noqa: ANN001, ANN202
        with torch.no_grad():
            return head(torch.from_numpy((x - mean) / scale).double()).exp().numpy()
    return predict


def _probe(net, splits, preprocess_root: Path, raw_root: Path, test_subjects) -> None:  # noqa: ANN001
    """Logistic regressions (C = 1, standardised) on the pooled features, fitted on the
    training patients, scored on the test patients; the latents from every synthetic cohort's
    ``oracle.tsv`` under ``raw_root``."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from glioma.data.dataset import load_patient
    from glioma.model.refit import pooled_features

    rows = splits[(splits["role"] == "train") | splits["subject"].isin(test_subjects)].reset_index(drop=True)
    x = pooled_features(net, [load_patient(preprocess_root / row.cohort / row.subject, row.subject)["image"]
                              for row in rows.itertuples()])
    train = (rows["role"] == "train").to_numpy()
    test = ~train
    def fit(x_train, y_train):  # noqa: ANN001, ANN202 - arrays in, a fitted pipeline out
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)).fit(x_train, y_train)

    grades = rows["grade"].map(lambda v: int(float(v)) if str(v).strip() not in {"", "nan"} else -1).to_numpy()
    known = train & (grades > 0)
    scores = fit(x[known], grades[known]).predict_proba(x[test])
    print(f"probe: grade AUC of a logistic regression on the {x.shape[1]} pooled features "
          f"({int(known.sum())} training grades): "
          f"{roc_auc_score(grades[test], scores, multi_class='ovo'):.3f}")
    ordinal = _fit_ordinal(x[known], grades[known] - 2)(x[test])
    print(f"probe: grade AUC of a cumulative-link (ordinal) regression on the same features: "
          f"{roc_auc_score(grades[test], ordinal, multi_class='ovo'):.3f}")
    oracle = pd.concat([pd.read_csv(path, sep="\t", dtype={"subject": str})
                        for path in sorted(raw_root.glob("*/oracle.tsv"))], ignore_index=True)
    latents = rows[["subject"]].merge(oracle.drop_duplicates("subject"), on="subject", how="left")
    have = latents["latent_enhancing"].notna().to_numpy()
    for sign in ("enhancing", "necrosis", "mismatch", "calcified", "frontal"):
        y = latents[f"latent_{sign}"].to_numpy()
        if len(set(y[train & have])) < 2 or len(set(y[test & have])) < 2:
            continue
        p = fit(x[train & have], y[train & have].astype(int)).predict_proba(x[test & have])[:, 1]
        print(f"probe: latent {sign:<10s} test AUC {roc_auc_score(y[test & have].astype(int), p):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--override", default="{}", help="JSON merged into the config (model:, train:)")
    parser.add_argument("--epochs", type=int, default=18, help="the demo's final run: 18 (2026-12-07)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", required=True, help="run name (folder under --out)")
    parser.add_argument("--results", default=str(REPO / "results"))
    parser.add_argument("--test-cohort", default="demo_test")
    parser.add_argument("--out", default=str(REPO / "results" / "benchmarks" / "demo_recipe"))
    parser.add_argument("--probe", action="store_true", help="also probe the pooled features")
    args = parser.parse_args()

    results = Path(args.results)
    splits_path = results / "cohort" / "splits.tsv"
    oracle_path = results / "raw" / args.test_cohort / "oracle.tsv"
    if not splits_path.is_file() or not oracle_path.is_file():
        print(f"skipped: needs the demo's results ({splits_path}, {oracle_path}); run `make demo` first")
        return 0
    logging.basicConfig(level=logging.WARNING)
    for name in ("pytorch_lightning", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)

    import nibabel as nib
    import numpy as np
    import pandas as pd
    import torch
    import yaml

    from glioma.data.dataset import load_patient
    from glioma.data.splits import read_splits
    from glioma.model.config import resolve_precision, settings_from_config
    from glioma.model.infer import SCORE_COLUMNS, model_vs_oracle
    from glioma.model.lightning import hard_dice
    from glioma.model.network import predict_probabilities
    from glioma.model.train import final_run

    config = _merge(yaml.safe_load(Path(args.config).read_text()), json.loads(args.override))
    config["train"] = {**config.get("train", {}), "threads": args.threads, "progress_bar": False}
    settings = settings_from_config(config)
    preprocess_root = results / "preprocess"
    start = time.perf_counter()
    run = final_run(Path(args.out) / args.tag, splits_path, preprocess_root, settings, args.epochs)
    minutes = (time.perf_counter() - start) / 60
    net = run.module.net.eval()
    n_train = len(read_splits(splits_path).query("role == 'train'"))

    splits = read_splits(splits_path)
    test = splits[(splits["cohort"] == args.test_cohort) & (splits["role"] == "test")]
    rows = []
    with torch.no_grad():
        for row in test.to_dict("records"):
            folder = preprocess_root / row["cohort"] / row["subject"]
            record = load_patient(folder, row["subject"])
            probs = predict_probabilities(net(torch.from_numpy(record["image"])[None]))
            for task, columns in SCORE_COLUMNS.items():
                row.update(zip(columns, (float(v) for v in probs[task][0]), strict=True))
            reference = folder / "seg.nii.gz"
            if reference.is_file():
                truth = torch.from_numpy(np.asarray(nib.load(str(reference)).dataobj) > 0)
                row["dice"] = float(hard_dice((probs["seg"][0].argmax(0) > 0)[None], truth[None])[0])
            rows.append(row)
    frame = pd.DataFrame(rows)
    oracle = pd.read_csv(oracle_path, sep="\t", dtype={"subject": str})
    table = model_vs_oracle(frame, oracle, float(frame["dice"].mean()))
    table["gap"] = table["oracle_auc"] - table["model_auc"]
    frame.to_csv(Path(args.out) / args.tag / "test_predictions.csv", index=False)
    precision = resolve_precision(settings.train.precision, settings.train.accelerator)
    print(f"{args.tag}: {n_train} training patients, {args.epochs} epochs, "
          f"{args.threads} thread(s), {precision}: {minutes:.1f} min; {len(frame)} test patients "
          f"({int(frame['dice'].notna().sum())} with a reference segmentation)")
    print(f"override: {args.override}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    worst = frame.nsmallest(3, "dice")[["subject", "dice"]]
    print("lowest Dice: " + ", ".join(f"{s} {d:.2f}" for s, d in worst.itertuples(index=False)))
    if args.probe:
        _probe(net, splits, preprocess_root, results / "raw", set(test["subject"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
