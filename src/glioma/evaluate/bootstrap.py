"""Rank-based AUC and its basic-bootstrap confidence interval, all resamples at once.

A resample is represented by the multiplicity of every patient in it (a ``B x n`` count matrix),
so the Mann-Whitney statistic of all ``B`` resamples is computed with a few cumulative sums over
the patients sorted by score, ties counted one half. Binary AUC and the one-vs-one (Hand & Till)
multi-class AUC use the same kernel. ``sklearn_bootstrap_aucs`` is the per-resample reference
loop that gives the same numbers (used by the tests and the benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike, NDArray

CI_METHODS = ("percentile", "basic")
"""``percentile`` reproduces the paper's Table 2 (which calls its intervals "basic bootstrap":
plain resampling of patients). ``basic`` is the reverse-percentile interval of Davison & Hinkley;
it gives 0.28-1.09 for the paper's HGG: IDH row, where the paper prints 0.21-0.99."""


def resample_indices(n: int, n_resamples: int, seed: int) -> NDArray[np.int64]:
    """``B x n`` patient indices drawn with replacement; reproducible for a seed."""
    rng = np.random.default_rng(int(seed))
    return rng.integers(0, n, size=(n_resamples, n))


def counts_from_indices(indices: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Multiplicity of each of ``n`` patients in every resample (``B x n``)."""
    b = indices.shape[0]
    flat = (indices + (np.arange(b)[:, None] * n)).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n)


def _weighted_auc(y: NDArray[np.bool_], score: NDArray[np.float64], weights: NDArray) -> NDArray[np.float64]:
    """Mann-Whitney AUC of positives ``y`` for every row of ``weights`` (``B x n`` multiplicities).

    Rows without positives or without negatives give NaN.
    """
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    yy = y[order]
    w = np.asarray(weights, dtype=np.float64)[:, order]
    pos = np.where(yy, w, 0.0)
    neg = w - pos
    # group tied scores
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos_g = np.add.reduceat(pos, starts, axis=1)
    neg_g = np.add.reduceat(neg, starts, axis=1)
    neg_below = np.cumsum(neg_g, axis=1) - neg_g
    numerator = (pos_g * (neg_below + 0.5 * neg_g)).sum(axis=1)
    n_pos = pos_g.sum(axis=1)
    n_neg = neg_g.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = numerator / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def binary_auc(y: ArrayLike, score: ArrayLike, weights: NDArray | None = None) -> NDArray[np.float64] | float:
    """AUC of binary labels ``y`` (1 = positive); with ``weights`` (``B x n``) one per row."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if weights is None:
        return float(_weighted_auc(y, score, np.ones((1, y.size)))[0])
    return _weighted_auc(y, score, weights)


def ovo_auc(y: ArrayLike, scores: ArrayLike, classes: ArrayLike, weights: NDArray | None = None) -> NDArray[np.float64] | float:
    """One-vs-one macro-average AUC (Hand & Till 2001), as scikit-learn's ``multi_class="ovo"``.

    ``scores`` is ``n x k`` (columns in the order of ``classes``), rows normalised to sum to 1.
    For every pair (a, b): the mean of AUC(a vs b, score a) and AUC(b vs a, score b) among the
    patients of class a or b; then the unweighted mean over pairs.
    """
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores / scores.sum(axis=1, keepdims=True)
    classes = np.asarray(classes)
    single = weights is None
    w = np.ones((1, y.size)) if single else np.asarray(weights)
    pair_aucs = []
    for i, j in combinations(range(classes.size), 2):
        mask = (y == classes[i]) | (y == classes[j])
        yi = y[mask] == classes[i]
        a_ij = _weighted_auc(yi, scores[mask, i], w[:, mask])
        a_ji = _weighted_auc(~yi, scores[mask, j], w[:, mask])
        pair_aucs.append((a_ij + a_ji) / 2.0)
    result = np.mean(pair_aucs, axis=0)
    return float(result[0]) if single else result


@dataclass(frozen=True)
class BootstrapResult:
    estimate: float
    ci_low: float
    ci_high: float
    n_valid: int  # resamples in which the AUC was defined


def confidence_interval(estimate: float, replicates: NDArray[np.float64], level: float = 0.95, method: str = "percentile") -> tuple[float, float]:
    """Basic (``2*est - q_hi, 2*est - q_lo``) or percentile bootstrap interval, NaN replicates dropped."""
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; use one of {CI_METHODS}")
    valid = replicates[~np.isnan(replicates)]
    if valid.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    q_lo, q_hi = np.quantile(valid, [alpha, 1.0 - alpha])
    if method == "percentile":
        return float(q_lo), float(q_hi)
    return float(2 * estimate - q_hi), float(2 * estimate - q_lo)


def bootstrap_auc(
    y: ArrayLike,
    score: ArrayLike,
    *,
    n_resamples: int = 2500,
    seed: int = 42,
    classes: ArrayLike | None = None,
    level: float = 0.95,
    method: str = "percentile",
    weights: NDArray | None = None,
) -> BootstrapResult:
    """AUC and bootstrap CI. Binary if ``score`` is 1-D, else one-vs-one over ``classes``.

    Patients are resampled with replacement (``resample_indices(n, n_resamples, seed)``) unless
    ``weights`` (``B x n`` multiplicities, e.g. the task's columns of a whole-cohort resampling)
    are given; resamples lacking a class are dropped (as a scikit-learn loop must skip them).
    """
    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    if weights is None:
        weights = counts_from_indices(resample_indices(y.size, n_resamples, seed), y.size)
    n_resamples = weights.shape[0]
    if score.ndim == 1:
        estimate = binary_auc(y, score)
        reps = binary_auc(y, score, weights)
    else:
        cls = np.unique(y) if classes is None else np.asarray(classes)
        estimate = ovo_auc(y, score, cls)
        reps = ovo_auc(y, score, cls, weights)
    low, high = confidence_interval(float(estimate), reps, level=level, method=method)
    return BootstrapResult(float(estimate), low, high, int(np.count_nonzero(~np.isnan(reps))))


def sklearn_bootstrap_aucs(
    y: ArrayLike,
    score: ArrayLike,
    *,
    n_resamples: int = 2500,
    seed: int = 42,
    classes: ArrayLike | None = None,
    rows: ArrayLike | None = None,
    n_total: int | None = None,
) -> NDArray[np.float64]:
    """Reference: one ``sklearn.metrics.roc_auc_score`` call per resample (NaN when undefined).

    With ``rows`` (positions of these patients among ``n_total``) the whole cohort of
    ``n_total`` is resampled and each resample keeps the draws that fall on ``rows``, exactly
    as ``compute_table2`` does.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    multi = score.ndim == 2
    if multi:
        score = score / score.sum(axis=1, keepdims=True)
        cls = np.unique(y) if classes is None else np.asarray(classes)
    if rows is None:
        rows, n_total = np.arange(y.size), y.size
    position = np.full(int(n_total), -1)
    position[np.asarray(rows)] = np.arange(y.size)
    out = np.full(n_resamples, np.nan)
    for b, draw in enumerate(resample_indices(int(n_total), n_resamples, seed)):
        idx = position[draw]
        idx = idx[idx >= 0]
        yb = y[idx]
        if multi:
            if np.unique(yb).size != cls.size:
                continue
            out[b] = roc_auc_score(yb, score[idx], multi_class="ovo", labels=cls)
        else:
            if np.unique(yb).size < 2:
                continue
            out[b] = roc_auc_score(yb, score[idx])
    return out
