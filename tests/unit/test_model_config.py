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


def test_precision_auto_is_bf16_only_where_the_hardware_computes_it(monkeypatch):
    import torch

    from glioma.model import config as model_config

    # explicit settings pass through untouched, whatever the machine
    assert model_config.resolve_precision("32-true", "cpu") == "32-true"
    assert model_config.resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    # this machine: auto follows what the CPU reports
    native = model_config.native_bf16("cpu")
    assert model_config.resolve_precision("auto", "cpu") == ("bf16-mixed" if native else "32-true")
    # both branches: a CPU without AMX or AVX512-BF16 (an AVX2-only one) keeps fp32
    for amx, avx512_bf16, expected in ((False, False, "32-true"), (True, False, "bf16-mixed"),
                                       (False, True, "bf16-mixed")):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        assert model_config.resolve_precision("auto", "cpu") == expected
    # a GPU asked for but absent has no bf16 of its own
    if not torch.cuda.is_available():
        assert model_config.native_bf16("gpu") is False
