"""Training settings from the workflow config: the fingerprint that reruns training on change."""

from glioma.model.config import NOT_LEARNED, training_fingerprint


def test_fingerprint_follows_learned_settings_only():
    base = {"model": {"base_filters": 4}, "train": {"lr": 3e-3, "threads": 2, "grid": {"lr": [1e-3]}}}
    fp = training_fingerprint(base)
    assert fp["network"]["base_filters"] == 4
    assert fp["train"]["lr"] == 3e-3
    assert fp["train"]["lr_schedule"] == "plateau"  # defaults are filled in
    assert not NOT_LEARNED & set(fp["train"])
    # speed and bookkeeping do not change it; a learned setting, the seed or the network does
    assert training_fingerprint({**base, "train": {**base["train"], "threads": 8, "progress_bar": False,
                                                   "num_workers": 4, "grid": {"lr": [5e-4]}}}) == fp
    assert training_fingerprint({**base, "train": {**base["train"], "lr_schedule": "cosine"}}) != fp
    assert training_fingerprint({**base, "seed": 7}) != fp
    assert training_fingerprint({**base, "model": {"base_filters": 8}}) != fp
