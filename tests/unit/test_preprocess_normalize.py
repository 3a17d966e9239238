from __future__ import annotations

import numpy as np
import pytest

from glioma.preprocess.normalize import effective_n4_shrink, n4, zscore_within


def test_zscore_within_mask_after_clipping():
    rng = np.random.default_rng(1)
    data = rng.normal(100, 20, (30, 30, 30)).astype(np.float32)
    mask = np.zeros(data.shape, bool)
    mask[5:25, 5:25, 5:25] = True
    data[10, 10, 10] = 1e6  # an outlier: clipped to the 99th percentile
    out = zscore_within(data, mask)
    assert out.dtype == np.float32
    assert out[mask].mean() == pytest.approx(0, abs=1e-5)
    assert out[mask].std() == pytest.approx(1, abs=1e-4)
    assert np.all(out[~mask] == 0)
    assert out[10, 10, 10] == pytest.approx(out[mask].max())
    assert out[10, 10, 10] < 4


def test_zscore_empty_mask_is_zero():
    assert not np.any(zscore_within(np.ones((4, 4, 4)), np.zeros((4, 4, 4))))


def test_effective_shrink():
    assert effective_n4_shrink(4, 1.0) == 4
    assert effective_n4_shrink(4, 3.0) == 2
    assert effective_n4_shrink(4, 0.5) == 8
    assert effective_n4_shrink(6, 3.0) == 2  # the demo grid


def test_n4_removes_a_smooth_bias_field():
    import ants

    shape = (40, 40, 40)
    x = np.linspace(0, 1, shape[0])[:, None, None] * np.ones(shape)
    tissue = np.where(np.indices(shape).sum(axis=0) % 8 < 4, 100.0, 150.0)
    biased = (tissue * (1 + 0.6 * x)).astype(np.float32)
    image = ants.from_numpy(biased, spacing=(3.0, 3.0, 3.0))
    mask = image.new_image_like(np.ones(shape, np.float32))
    corrected = n4(image, mask, shrink=2).numpy()
    left, right = corrected[:10], corrected[-10:]
    before = biased[-10:].mean() / biased[:10].mean()
    after = right.mean() / left.mean()
    assert before > 1.4
    assert abs(after - 1) < abs(before - 1) / 2
