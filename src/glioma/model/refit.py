"""Refit the linear heads on the trained network's pooled features (``train.refit_heads``).

End to end, the heads of a small model trained for a few epochs lag behind their features: the
features keep moving under them, dropout perturbs them, and a single learning rate serves the
convolutions and the heads alike. Once training has ended the features are fixed, and each task
head is a convex problem: a logistic regression of the task's known labels on the pooled
features of the training patients (without augmentation, as at inference), its L2 penalty chosen
by stratified k-fold cross-validation of the log-loss. This is classifier re-training on frozen
features (Kang et al., *Decoupling representation and classifier*, ICLR 2020). The fitted
coefficients, with the standardisation folded in, are written back into the heads'
``nn.Linear`` layers, so the model artefact, inference and saliency are unchanged.

With ``label_structure: codeletion_within_idh`` the 1p/19q head is the conditional
P(co-deleted | IDH mutant), so it is refitted on the IDH-mutant training patients only.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from glioma.data.dataset import UNKNOWN
from glioma.errors import ConfigError
from glioma.model.network import TASKS, PSNet

log = logging.getLogger(__name__)

#: candidate inverse L2 penalties (scikit-learn's ``C``) for the cross-validation
REFIT_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3, 2, 11))
REFIT_FOLDS = 5


@dataclass(frozen=True)
class HeadFit:
    """One refitted head: the patients it was fitted on, the chosen ``C`` and the weights
    (``(n_classes, n_features)``, ``(n_classes,)``) written into its ``nn.Linear``."""

    task: str
    n_patients: int
    c: float
    weight: np.ndarray
    bias: np.ndarray

    def summary(self) -> dict:
        return {"patients": self.n_patients, "C": self.c}


def check_refit(net: PSNet) -> None:
    """Raise :class:`ConfigError` unless ``net``'s heads can be refitted: linear heads
    (``model.dense_units: 0``), a label structure of one head per task and a multinomial grade
    head."""
    config = net.config
    if config.dense_units != 0:
        raise ConfigError("train.refit_heads needs linear heads (model.dense_units: 0), "
                          f"got dense_units {config.dense_units}")
    if config.label_structure not in ("independent", "codeletion_within_idh"):
        raise ConfigError("train.refit_heads needs one head per task (model.label_structure "
                          f"independent or codeletion_within_idh), got {config.label_structure!r}")
    if config.grade_head != "multinomial":
        raise ConfigError("train.refit_heads refits logistic-regression heads: it needs "
                          f"model.grade_head multinomial, got {config.grade_head!r}")


@torch.no_grad()
def pooled_features(net: PSNet, images: Sequence[np.ndarray]) -> np.ndarray:
    """The features the heads see (the input of the dropout layer), one row per image
    ``(channels, D, H, W)``, computed as at inference: eval mode, fp32, no augmentation."""
    seen: list[np.ndarray] = []
    handle = net.dropout.register_forward_hook(
        lambda module, inputs, output: seen.append(inputs[0].float().cpu().numpy()))
    was_training = net.training
    net.eval()
    try:
        with torch.autocast(device_type="cpu", enabled=False):
            for image in images:
                net(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None])
    finally:
        handle.remove()
        net.train(was_training)
    return np.concatenate(seen, axis=0) if seen else np.zeros((0, 0), dtype=np.float32)


def fit_head(task: str, features: np.ndarray, labels: np.ndarray, n_classes: int, *,
             balanced: bool, seed: int = 0, cs: Sequence[float] = REFIT_CS,
             folds: int = REFIT_FOLDS) -> HeadFit | None:
    """A standardised L2 logistic regression of ``labels`` (class indices; :data:`UNKNOWN`
    ignored) on ``features``, ``C`` by stratified cross-validation of the log-loss; the
    standardisation is folded into the returned weights. ``None`` when the known labels have
    fewer than two classes or too few patients per class for the folds (the head is kept).
    Two known classes give logits ``(0, w.x + b)`` (a class never seen gets a bias of -30, about
    zero probability); ``balanced`` weights the classes by inverse
    prevalence, as ``train.class_weights: prevalence`` does in training."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    known = labels != UNKNOWN
    x, y = features[known].astype(np.float64), labels[known].astype(int)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2 or counts.min() < 2:
        log.warning("refit of the %s head skipped: known training labels %s", task,
                    dict(zip(classes.tolist(), counts.tolist(), strict=True)))
        return None
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    z = (x - mean) / scale
    splitter = StratifiedKFold(n_splits=int(min(folds, counts.min())), shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs convergence chatter at the smallest penalties
        model = LogisticRegressionCV(Cs=list(cs), cv=splitter, scoring="neg_log_loss", max_iter=5000,
                                     class_weight="balanced" if balanced else None).fit(z, y)
    coef, intercept = model.coef_ / scale, model.intercept_ - (model.coef_ / scale) @ mean
    weight = np.zeros((n_classes, features.shape[1]))
    bias = np.zeros(n_classes)
    if len(classes) == 2:  # one logit difference: class classes[1] against classes[0]
        weight[classes[1]], bias[classes[1]] = coef[0], intercept[0]
    else:
        weight[classes], bias[classes] = coef, intercept
    # a class without a known training label gets a probability of about zero
    bias[np.setdiff1d(np.arange(n_classes), classes)] = -30.0
    c = float(np.atleast_1d(model.C_)[0])
    return HeadFit(task, int(known.sum()), c, weight, bias)


def refit_heads(net: PSNet, records: Sequence[dict], *, balanced: bool, seed: int = 0) -> dict[str, dict]:
    """Refit every task head of ``net`` in place on ``records`` (the training patients:
    ``image`` and one class index per task, :data:`UNKNOWN` where unknown); returns
    ``{task: {"patients": n, "C": c}}`` for the heads refitted."""
    check_refit(net)
    features = pooled_features(net, [r["image"] for r in records])
    labels = {task: np.asarray([int(r[task]) for r in records]) for task in TASKS}
    if net.config.label_structure == "codeletion_within_idh":
        # the 1p/19q head is P(co-deleted | IDH mutant): only IDH-mutant patients inform it
        labels["codeletion"] = np.where(labels["idh"] == 1, labels["codeletion"], UNKNOWN)
    done: dict[str, dict] = {}
    for task in TASKS:
        linear = net.heads[task][-1]
        fit = fit_head(task, features, labels[task], linear.out_features, balanced=balanced, seed=seed)
        if fit is None:
            continue
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(fit.weight).to(linear.weight.dtype))
            linear.bias.copy_(torch.from_numpy(fit.bias).to(linear.bias.dtype))
        done[task] = fit.summary()
        log.info("refitted the %s head on %d training patients (C %.3g)", task, fit.n_patients, fit.c)
    return done
