"""Refitting the linear heads on the trained network's pooled features (train.refit_heads)."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from glioma.errors import ConfigError
from glioma.model.config import settings_from_config
from glioma.model.network import NetworkConfig, PSNet, predict_probabilities
from glioma.model.refit import check_refit, fit_head, pooled_features, refit_heads
from glioma.schema import UNKNOWN

torch.set_num_threads(1)


def _net(**overrides) -> PSNet:
    config = {"base_filters": 4, "depth": 3, "dense_units": 0, "dropout": 0.5, "pooling": "tumour_only",
              "label_structure": "independent", **overrides}
    torch.manual_seed(0)
    return PSNet(NetworkConfig(**config))


def _records(net: PSNet, n: int = 60, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    """Random images; labels that are functions of the pooled features (so a linear head can
    learn them) with some unknown."""
    rng = np.random.default_rng(seed)
    images = [rng.standard_normal((4, 12, 14, 12)).astype(np.float32) for _ in range(n)]
    features = pooled_features(net, images)
    z = (features - features.mean(0)) / (features.std(0) + 1e-8)
    score = z[:, 0] - z[:, 3] + 0.3 * rng.standard_normal(n)
    records = []
    for i, image in enumerate(images):
        records.append({"image": image, "idh": int(score[i] > 0), "codeletion": int(z[i, 1] > 0.3),
                        "grade": int(np.digitize(score[i], np.quantile(score, [1 / 3, 2 / 3])))})
    for i in range(0, n, 7):
        records[i]["idh"] = UNKNOWN
    return records, features


def test_pooled_features_are_the_heads_input_at_inference():
    net = _net()
    net.train()  # dropout 0.5 would change them; the features are taken in eval mode
    image = np.random.default_rng(1).standard_normal((4, 12, 14, 12)).astype(np.float32)
    a, b = pooled_features(net, [image]), pooled_features(net, [image, image])
    assert a.shape == (1, net.config.pooled_features()) and b.shape == (2, a.shape[1])
    np.testing.assert_allclose(b, np.repeat(a, 2, axis=0), rtol=1e-6)
    assert net.training  # the mode is restored
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(image)[None])["idh"]
    head = net.heads["idh"][-1]
    np.testing.assert_allclose(logits.numpy(), a @ head.weight.detach().numpy().T + head.bias.detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_refit_heads_are_the_cross_validated_logistic_regression():
    net = _net()
    records, features = _records(net)
    done = refit_heads(net, records, balanced=False, seed=0)
    assert set(done) == {"idh", "codeletion", "grade"}
    assert done["idh"]["patients"] == sum(r["idh"] != UNKNOWN for r in records)  # unknown left out
    assert done["grade"]["patients"] == len(records)
    net.eval()
    with torch.no_grad():
        probs = [predict_probabilities(net(torch.from_numpy(r["image"])[None])) for r in records]
    for task in ("idh", "grade"):
        y = np.array([r[task] for r in records])
        known = y != UNKNOWN
        scores = np.concatenate([p[task].numpy() for p in probs])[known]
        # the heads give the probabilities of scikit-learn's model with the chosen C
        mean, scale = features[known].mean(0), features[known].std(0)
        reference = LogisticRegression(C=done[task]["C"], max_iter=5000).fit(
            (features[known] - mean) / scale, y[known])
        np.testing.assert_allclose(scores, reference.predict_proba((features[known] - mean) / scale),
                                   atol=2e-3)
        auc = (roc_auc_score(y[known], scores[:, 1]) if task == "idh"
               else roc_auc_score(y[known], scores, multi_class="ovo"))
        assert auc > 0.9, (task, auc)


def test_codeletion_head_is_refitted_on_idh_mutant_patients_within_idh():
    net = _net(label_structure="codeletion_within_idh")
    records, _ = _records(net, seed=2)
    done = refit_heads(net, records, balanced=True, seed=0)
    mutant_known = sum(r["idh"] == 1 and r["codeletion"] != UNKNOWN for r in records)
    assert done["codeletion"]["patients"] == mutant_known < len(records)


def test_a_head_with_one_known_class_is_kept():
    net = _net()
    records, _ = _records(net)
    for r in records:
        r["codeletion"] = 0
    before = net.heads["codeletion"][-1].weight.detach().clone()
    done = refit_heads(net, records, balanced=True)
    assert "codeletion" not in done and {"idh", "grade"} <= set(done)
    torch.testing.assert_close(net.heads["codeletion"][-1].weight, before)


def test_fit_head_gives_an_absent_grade_no_probability():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5))
    y = np.where(x[:, 0] > 0, 2, 0)  # grades II and IV only
    fit = fit_head("grade", x, y, 3, balanced=True)
    assert fit is not None and fit.bias[1] == -30.0 and not fit.weight[1].any()


def test_refit_needs_linear_heads_and_one_head_per_task():
    with pytest.raises(ConfigError, match="dense_units: 0"):
        check_refit(_net(dense_units=8))
    with pytest.raises(ConfigError, match="one head per task"):
        check_refit(_net(label_structure="who_classes"))
    with pytest.raises(ConfigError, match="dense_units: 0"):
        settings_from_config({"model": {"dense_units": 16}, "train": {"refit_heads": True}})
    with pytest.raises(ConfigError, match="who_classes"):
        settings_from_config({"model": {"dense_units": 0, "label_structure": "who_classes"},
                              "train": {"refit_heads": True}})
    with pytest.raises(ConfigError, match="grade_head multinomial"):
        check_refit(_net(grade_head="ordinal"))
    with pytest.raises(ConfigError, match="grade_head multinomial"):
        settings_from_config({"model": {"dense_units": 0, "grade_head": "ordinal"}, "train": {"refit_heads": True}})
    with pytest.raises(ConfigError, match="grade_head ordinal"):
        settings_from_config({"model": {"grade_head": "ordinal", "label_structure": "who_classes"}})
