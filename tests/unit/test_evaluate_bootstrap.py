"""Vectorised rank-based AUC and bootstrap against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from glioma.evaluate.bootstrap import (
    binary_auc,
    bootstrap_auc,
    confidence_interval,
    counts_from_indices,
    ovo_auc,
    resample_indices,
    sklearn_bootstrap_aucs,
)


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.round(rng.random(n) * 0.5 + 0.3 * y, 1)  # rounded: many ties
    return y, score


def test_binary_auc_equals_sklearn_with_ties() -> None:
    for seed in range(5):
        y, s = _data(seed=seed)
        assert binary_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_ovo_auc_equals_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.choice([2, 3, 4], 90)
    s = rng.random((90, 3)) + np.eye(3)[y - 2] * 0.4
    s = s / s.sum(axis=1, keepdims=True)
    assert ovo_auc(y, s, [2, 3, 4]) == pytest.approx(roc_auc_score(y, s, multi_class="ovo", labels=[2, 3, 4]), abs=1e-12)


def test_counts_match_indices() -> None:
    idx = resample_indices(7, 5, seed=3)
    counts = counts_from_indices(idx, 7)
    assert counts.shape == (5, 7)
    assert (counts.sum(axis=1) == 7).all()
    assert counts[2, idx[2, 0]] >= 1


def test_bootstrap_replicates_equal_sklearn_loop_including_degenerate() -> None:
    y = np.array([1, 1] + [0] * 18)  # few positives: some resamples have none
    s = np.linspace(0, 1, 20)[::-1] * 0.5 + np.random.default_rng(0).random(20) * 0.5
    w = counts_from_indices(resample_indices(20, 300, seed=5), 20)
    vec = binary_auc(y, s, w)
    ref = sklearn_bootstrap_aucs(y, s, n_resamples=300, seed=5)
    assert np.isnan(vec).any()
    np.testing.assert_array_equal(np.isnan(vec), np.isnan(ref))
    np.testing.assert_allclose(vec[~np.isnan(vec)], ref[~np.isnan(ref)], atol=1e-12)


def test_bootstrap_multiclass_equals_sklearn_loop_on_cohort_subset() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice([2, 3, 4], 40)
    s = rng.random((40, 3))
    rows = np.arange(5, 45)  # these patients are rows 5..44 of a cohort of 50
    w = counts_from_indices(resample_indices(50, 200, seed=9), 50)[:, rows]
    vec = ovo_auc(y, s, [2, 3, 4], w)
    ref = sklearn_bootstrap_aucs(y, s, n_resamples=200, seed=9, classes=[2, 3, 4], rows=rows, n_total=50)
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(vec[ok], ref[ok], atol=1e-12)


def test_bootstrap_is_reproducible_and_seed_dependent() -> None:
    y, s = _data(80)
    a = bootstrap_auc(y, s, n_resamples=500, seed=1)
    b = bootstrap_auc(y, s, n_resamples=500, seed=1)
    c = bootstrap_auc(y, s, n_resamples=500, seed=2)
    assert a == b
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.estimate < a.ci_high


def test_confidence_interval_methods() -> None:
    reps = np.array([0.1, 0.2, 0.3, 0.4, np.nan] * 100)
    lo, hi = confidence_interval(0.3, reps, method="percentile")
    blo, bhi = confidence_interval(0.3, reps, method="basic")
    assert blo == pytest.approx(0.6 - hi) and bhi == pytest.approx(0.6 - lo)
    with pytest.raises(ValueError, match="unknown CI method"):
        confidence_interval(0.3, reps, method="bca")
