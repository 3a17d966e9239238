"""How close to the oracle can a model trained on N patients get? The sample-size ceiling.

A logistic regression fitted on the generator's true appearance latents (a perfect reader of the
images) of N fully labelled training patients, tested on a large held-out draw: its mean AUC gap
to the oracle per task, over repeated training draws. No image is made, so this takes seconds.
The demo's quality target is an AUC within 0.05 of the oracle; whatever a network reads from the
images, it cannot beat this reader by much with the same training patients.

Run: .venv/bin/python benchmarks/bench_label_ceiling.py [--train 90 180 360 720] [--repeats 20]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from glioma.synth.labels import LATENT_NAMES, label_posterior, sample_patient

TASKS = {"IDH": "idh", "1p19q": "codeletion", "grade": "grade"}


def _draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    patients = [sample_patient(rng) for _ in range(n)]
    x = np.array([[p.latents[name] for name in LATENT_NAMES] for p in patients])
    labels = {task: np.array([getattr(p, attr) for p in patients]) for task, attr in TASKS.items()}
    post = [label_posterior(p.latents) for p in patients]
    oracle = {
        "IDH": np.array([q["oracle_p_idh_mutated"] for q in post]),
        "1p19q": np.array([q["oracle_p_1p19q_codeleted"] for q in post]),
        "grade": np.array([[q[f"oracle_p_grade_{g}"] for g in (2, 3, 4)] for q in post]),
    }
    return x, labels, oracle


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p) if p.ndim == 1 else roc_auc_score(y, p, multi_class="ovo"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, nargs="+", default=[90, 180, 360, 720])
    parser.add_argument("--test", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    x_test, y_test, oracle = _draw(args.test, rng)
    oracle_auc = {task: _auc(y_test[task], oracle[task]) for task in TASKS}
    print(f"oracle AUC on {args.test} test patients: "
          + ", ".join(f"{task} {auc:.3f}" for task, auc in oracle_auc.items()))
    print("AUC gap to the oracle of a logistic regression on the true latents (mean, sd over "
          f"{args.repeats} training draws; target of the demo: <= 0.05)")
    print(f"{'training patients':>18s}" + "".join(f"{task:>16s}" for task in TASKS))
    for n in args.train:
        gaps: dict[str, list[float]] = {task: [] for task in TASKS}
        for _ in range(args.repeats):
            x, y, _ = _draw(n, rng)
            for task in TASKS:
                if len(set(y[task])) < len(set(y_test[task])):
                    continue  # a draw without one of the classes
                fit = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)).fit(x, y[task])
                p = fit.predict_proba(x_test)
                gaps[task].append(oracle_auc[task] - _auc(y_test[task], p[:, 1] if p.shape[1] == 2 else p))
        print(f"{n:>18d}" + "".join(f"{np.mean(g):>9.3f} ± {np.std(g):.3f}" for g in gaps.values()))


if __name__ == "__main__":
    main()
