"""Shapes, pooling and activation checkpointing of the multi-task network."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from glioma.model.network import (
    TASKS,
    WHO_CLASSES,
    NetworkConfig,
    PointwiseConv3d,
    PSNet,
    SubpixelConvTranspose3d,
    _SlabConv3d,
    codeletion_within_idh,
    conv3d,
    predict_probabilities,
    predicted_gate,
    tumour_statistics,
    who_marginals,
)

torch.set_num_threads(1)
SMALL = NetworkConfig(base_filters=4, depth=3, dense_units=16, dropout=0.0)


@pytest.mark.parametrize("shape", [(18, 21, 19), (12, 12, 12), (30, 24, 27)])
def test_output_shapes_for_odd_sizes(shape):
    net = PSNet(SMALL)
    out = net(torch.randn(2, 4, *shape))
    assert set(out) == {*TASKS, "seg"}
    assert out["idh"].shape == (2, 2)
    assert out["codeletion"].shape == (2, 2)
    assert out["grade"].shape == (2, 3)
    assert out["seg"].shape == (2, 2, *shape)


def test_paper_configuration_layers():
    net = PSNet(NetworkConfig())
    assert len(net.encoders) == 5 and len(net.decoders) == 4
    first = net.downs[0]
    assert first.kernel_size == (9, 9, 9) and first.stride == (3, 3, 3)
    assert net.ups[0].kernel_size == (9, 9, 9) and net.ups[0].stride == (3, 3, 3)
    assert net.encoders[4].units[0][0].out_channels == 32 * 16
    # pooled feature vector: encoder 32+64+128+256+512, decoder 32+64+128+256
    assert net.heads["idh"][0].in_features == 992 + 480
    assert net.heads["idh"][0].out_features == 512


@pytest.mark.parametrize("prior", [0.01, 0.2])
def test_segmentation_starts_from_the_tumour_prior(prior):
    torch.manual_seed(0)
    net = PSNet(NetworkConfig(base_filters=4, depth=3, dense_units=8, seg_prior=prior)).eval()
    with torch.no_grad():
        tumour = predict_probabilities(net(torch.randn(2, 4, 12, 12, 12)))["seg"][:, 1]
    # the head's bias is the prior's log-odds; random features move it only a little
    assert abs(float(tumour.median()) - prior) < 0.5 * prior
    with pytest.raises(ValueError, match="seg_prior"):
        PSNet(NetworkConfig(base_filters=4, depth=3, seg_prior=1.0))


def test_head_activation_from_config():
    assert isinstance(PSNet(SMALL).heads["grade"][1], torch.nn.ReLU)  # paper default
    leaky = PSNet(NetworkConfig(base_filters=4, depth=3, dense_units=8, head_activation="leaky_relu"))
    assert isinstance(leaky.heads["grade"][1], torch.nn.LeakyReLU)
    # a unit pushed below zero for every input still passes a gradient
    head = leaky.heads["grade"]
    with torch.no_grad():
        head[0].bias.fill_(-100.0)
    features = torch.rand(3, head[0].in_features, requires_grad=True)
    head(features).sum().backward()
    assert head[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="head_activation"):
        PSNet(NetworkConfig(base_filters=4, depth=3, head_activation="tanh"))


def test_dense_units_zero_gives_linear_heads():
    net = PSNet(NetworkConfig(base_filters=4, depth=3, dense_units=0, pooling="tumour_only"))
    for name, n in (("idh", 2), ("codeletion", 2), ("grade", 3)):
        layers = list(net.heads[name])
        assert len(layers) == 1 and isinstance(layers[0], torch.nn.Linear)
        assert (layers[0].in_features, layers[0].out_features) == (net.config.pooled_features(), n)
    out = net(torch.randn(2, 4, 12, 12, 12))
    assert out["grade"].shape == (2, 3) and out["idh"].shape == (2, 2)
    with pytest.raises(ValueError, match="dense_units"):
        PSNet(NetworkConfig(base_filters=4, depth=3, dense_units=-1))


def test_wrong_channel_count_is_refused():
    with pytest.raises(ValueError, match="expected input"):
        PSNet(SMALL)(torch.randn(1, 3, 12, 12, 12))


def test_probabilities_sum_to_one():
    net = PSNet(SMALL).eval()
    probs = predict_probabilities(net(torch.randn(1, 4, 12, 12, 12)))
    for key, value in probs.items():
        torch.testing.assert_close(value.sum(dim=1), torch.ones_like(value.sum(dim=1)), msg=key)


@pytest.mark.parametrize("norm", ["instance", "group", "batch"])
def test_activation_checkpointing_gives_same_gradients(norm):
    torch.manual_seed(0)
    plain = PSNet(NetworkConfig(base_filters=4, depth=3, dense_units=8, dropout=0.0, norm=norm))
    ckpt = PSNet(
        NetworkConfig(
            base_filters=4, depth=3, dense_units=8, dropout=0.0, norm=norm,
            activation_checkpointing=True,
        )
    )
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 4, 15, 15, 15, requires_grad=True)
    grads = []
    for net in (plain, ckpt):
        net.zero_grad()
        out = net(x)
        (out["idh"].sum() + out["grade"][:, 2].sum() + (out["seg"][:, 1] ** 2).mean()).backward()
        grads.append({name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None})
    # every parameter: the segmentation head and the upsampling that share a checkpoint with a
    # unit (ConvBlock's up/tail) included
    assert grads[0].keys() == grads[1].keys() and {"seg_head.weight", "ups.0.weight"} <= grads[0].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("channels_last", [True, False])
def test_pointwise_convolution_equals_a_1x1x1_convolution(channels_last):
    torch.manual_seed(0)
    pointwise = PointwiseConv3d(6, 3)
    conv = torch.nn.Conv3d(6, 3, 1)
    conv.load_state_dict(pointwise.state_dict())  # same parameters, same keys
    x = torch.randn(2, 6, 5, 7, 4)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    x.requires_grad_()
    outputs = [module(x) for module in (pointwise, conv)]
    torch.testing.assert_close(outputs[0], outputs[1])
    target = torch.randn_like(outputs[1])
    grads = [torch.autograd.grad((out * target).sum(), [x, module.weight, module.bias])
             for out, module in zip(outputs, (pointwise, conv), strict=True)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(9, 3, 3), (2, 2, 0), (4, 2, 1), (6, 3, 0)])
def test_subpixel_transposed_convolution_equals_conv_transpose3d(kernel, stride, padding):
    """Same parameters and keys as nn.ConvTranspose3d; same output and gradients (float64, so
    only rounding could differ) for every output padding the transposed convolution allows."""
    torch.manual_seed(0)
    subpixel = SubpixelConvTranspose3d(3, 2, kernel, stride, padding).double()
    plain = torch.nn.ConvTranspose3d(3, 2, kernel, stride=stride, padding=padding).double()
    plain.load_state_dict(subpixel.state_dict())
    x = torch.randn(2, 3, 5, 6, 4, dtype=torch.double, requires_grad=True)
    base = [(n - 1) * stride - 2 * padding + kernel for n in x.shape[2:]]
    for extra in range(stride):
        size = [n + extra for n in base]
        outputs = [module(x, output_size=size) for module in (subpixel, plain)]
        assert outputs[0].shape == outputs[1].shape == (2, 2, *size)
        torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=1e-12)
        target = torch.randn_like(outputs[1])
        grads = [torch.autograd.grad((out * target).sum(), [x, module.weight, module.bias])
                 for out, module in zip(outputs, (subpixel, plain), strict=True)]
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-11)
    with pytest.raises(ValueError, match="valid sizes"):
        subpixel(x, output_size=[n + stride for n in base])
    with pytest.raises(ValueError, match="kernel % stride"):
        SubpixelConvTranspose3d(3, 2, 5, 3, 1)


def test_first_upsampling_is_subpixel_and_tumour_only_skips_the_level_maxima():
    net = PSNet(NetworkConfig(base_filters=4, depth=3, dense_units=0, dropout=0.0, pooling="tumour_only"))
    assert isinstance(net.ups[0], SubpixelConvTranspose3d)
    assert net.config.pooled_features() == 3 * net.config.tumour_contrasts + 4
    seen = []
    net.dropout.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    net(torch.randn(1, 4, 18, 21, 19))
    assert seen == [torch.Size([1, net.config.pooled_features()])]
    assert net._level_max(torch.randn(2, 4, 3, 3, 3)).shape == (2, 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("depth", [7, 11])
def test_slab_weight_gradient_equals_the_plain_convolution(dtype, depth):
    torch.manual_seed(0)
    x = torch.randn(2, 5, depth, 6, 4).contiguous(memory_format=torch.channels_last_3d)
    weight = torch.randn(3, 5, 3, 3, 3)
    target = torch.randn(2, 3, depth, 6, 4)
    grads = []
    for slabs in (False, True):
        xi = x.to(dtype).requires_grad_()
        wi = weight.to(dtype).requires_grad_()
        out = _SlabConv3d.apply(xi, wi, 1, 3) if slabs else F.conv3d(xi, wi, padding=1)
        grads.append([out, *torch.autograd.grad((out.float() * target).sum(), [xi, wi])])
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 2e-2, "atol": 0.25}
    for plain, slab in zip(*grads, strict=True):
        assert slab.dtype == dtype and slab.shape == plain.shape
        torch.testing.assert_close(slab.float(), plain.float(), **tol)


def test_conv3d_takes_the_slab_path_only_on_cpu_under_bf16_autocast():
    x = torch.randn(1, 2, 6, 5, 4, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, 3, requires_grad=True)
    assert conv3d(x, weight, 1, min_elements=0).grad_fn.name() == "ConvolutionBackward0"
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = conv3d(x, weight, 1, min_elements=0)
        plain = F.conv3d(x, weight, padding=1)
        assert conv3d(x, weight, 1).grad_fn.name() == "ConvolutionBackward0"  # small input
    assert out.grad_fn.name() == "_SlabConv3dBackward"
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), plain.float())
    out.float().sum().backward()
    assert x.grad.dtype == torch.float32 and weight.grad.dtype == torch.float32


def test_tumour_statistics_see_only_the_tumour():
    torch.manual_seed(0)
    contrasts = torch.randn(2, 3, 6, 7, 5)
    tumour = torch.zeros(2, 1, 6, 7, 5)
    tumour[0, 0, 1:3, 2:5, 1:4] = 1.0
    tumour[1, 0, 4, 4, 2] = 1.0
    stats = tumour_statistics(contrasts, tumour)
    assert stats.shape == (2, 3 * 3 + 4)
    for b in range(2):
        inside = contrasts[b][:, tumour[b, 0] > 0.5]
        torch.testing.assert_close(stats[b, 0:3], inside.amax(1))
        torch.testing.assert_close(stats[b, 3:6], inside.amin(1))
        torch.testing.assert_close(stats[b, 6:9], inside.mean(1), atol=1e-4, rtol=1e-4)
        assert float(stats[b, 12]) == pytest.approx(float(torch.log1p(tumour[b].sum())))
        centre = torch.nonzero(tumour[b, 0] > 0.5).float().mean(0) / (torch.tensor([6, 7, 5]) - 1) * 2 - 1
        torch.testing.assert_close(stats[b, 9:12], centre)
    # anatomy outside the tumour brighter or darker than anything in it changes nothing
    outside = contrasts.clone()
    outside[tumour.expand_as(contrasts) < 0.5] *= 5.0
    torch.testing.assert_close(tumour_statistics(outside, tumour), stats, atol=1e-4, rtol=1e-4)


def test_predicted_gate_is_the_predicted_segmentation_or_the_soft_map_when_empty():
    logits = torch.zeros(2, 2, 4, 5, 3)
    logits[0, 1, 1:3, 2:4, :] = 3.0  # patient 0: tumour probability 0.95 here, 0.5 elsewhere
    logits[0, 0, 3, 0, 0] = -0.1  # one more voxel just above 0.5
    logits[1, 0] = 2.0  # patient 1: no voxel above 0.5
    logits[1, 0, 2, 2, 1] = 0.5
    gate = predicted_gate(logits)
    assert gate.shape == (2, 1, 4, 5, 3)
    expected = (torch.softmax(logits[0], dim=0)[1] > 0.5).float()
    assert set(gate[0].unique().tolist()) == {0.0, 1.0} and gate[0].sum() == 2 * 2 * 3 + 1
    torch.testing.assert_close(gate[0, 0], expected)
    torch.testing.assert_close(gate[1, 0], torch.softmax(logits[1], dim=0)[1])  # soft fallback


def test_tumour_pooling_heads_read_the_gate_but_do_not_train_the_segmentation():
    config = NetworkConfig(**{**SMALL.to_dict(), "pooling": "tumour", "tumour_contrasts": 5})
    net = PSNet(config)
    assert net.heads["idh"][0].in_features == SMALL.pooled_features() + 3 * 5 + 4
    out = net(torch.randn(2, 4, 12, 12, 12))
    out["idh"].sum().backward()
    assert net.contrasts.weight.grad.abs().sum() > 0  # the contrasts learn from the heads
    assert net.seg_head.weight.grad is None  # the gate is detached: no gradient to the seg head
    with pytest.raises(ValueError, match="pooling"):
        PSNet(NetworkConfig(**{**SMALL.to_dict(), "pooling": "mean"}))


def test_tumour_only_pooling_heads_see_nothing_outside_the_tumour():
    torch.manual_seed(0)
    config = NetworkConfig(**{**SMALL.to_dict(), "pooling": "tumour_only", "tumour_contrasts": 5,
                              "tumour_gate": "reference"})
    assert config.pooled_features() == 3 * 5 + 4
    net = PSNet(config).train()
    assert net.heads["idh"][0].in_features == 3 * 5 + 4
    x = torch.randn(2, 4, 12, 12, 12)
    reference = torch.zeros(2, 1, 12, 12, 12)
    reference[:, :, 3:7, 3:7, 3:7] = 1
    seen = {}
    net.heads["grade"][0].register_forward_hook(lambda m, i, o: seen.update(features=i[0].detach()))
    out = net(x, reference, torch.tensor([1, 1]))
    with torch.no_grad():
        torch.testing.assert_close(seen["features"], tumour_statistics(net.contrasts(x), reference))
    # what the heads read depends on the tumour voxels alone: new anatomy outside leaves it
    outside = x.clone()
    outside[reference.expand_as(x) < 0.5] = 3.0 * torch.randn(int((reference < 0.5).sum()) * 4)
    first = {k: v.detach().clone() for k, v in out.items()}
    out = net(outside, reference, torch.tensor([1, 1]))
    for task in ("idh", "codeletion", "grade"):
        torch.testing.assert_close(out[task], first[task])
    out["codeletion"].sum().backward()
    assert net.contrasts.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.encoders.parameters())  # no path from the heads


def test_tumour_kernel_gives_contrasts_a_neighbourhood():
    torch.manual_seed(0)
    config = NetworkConfig(**{**SMALL.to_dict(), "pooling": "tumour_only", "tumour_kernel": 3})
    net = PSNet(config)
    assert net.contrasts.weight.shape == (8, 4, 3, 3, 3)
    x = torch.zeros(1, 4, 9, 9, 9)
    x[0, :, 4, 4, 4] = 1.0  # one bright voxel: a 3x3x3 contrast sees it from its neighbours too
    response = net.contrasts(x)[0, 0]
    assert int((response != response[0, 0, 0]).sum()) == 27
    with pytest.raises(ValueError, match="tumour_kernel"):
        PSNet(NetworkConfig(**{**SMALL.to_dict(), "pooling": "tumour", "tumour_kernel": 2}))


def test_reference_gate_in_training_only_and_only_where_known():
    torch.manual_seed(0)
    config = NetworkConfig(**{**SMALL.to_dict(), "pooling": "tumour", "tumour_gate": "reference"})
    net = PSNet(config)
    x = torch.randn(2, 4, 12, 12, 12)
    reference = torch.zeros(2, 1, 12, 12, 12, dtype=torch.uint8)
    reference[:, :, 3:7, 3:7, 3:7] = 1
    seen = {}
    net.heads["idh"][0].register_forward_hook(lambda m, i, o: seen.update(features=i[0].detach()))
    stats = slice(SMALL.pooled_features(), None)
    net.train()
    net(x, reference, torch.tensor([1, 0]))
    gated = seen["features"][:, stats]
    with torch.no_grad():
        expected = tumour_statistics(net.contrasts(x), reference.float())
    torch.testing.assert_close(gated[0], expected[0])  # patient 0: the reference mask
    assert not torch.allclose(gated[1], expected[1])  # patient 1 has none: its prediction
    net.eval()
    with torch.no_grad():
        net(x, reference, torch.tensor([1, 1]))
    assert not torch.allclose(seen["features"][0, stats], expected[0])  # inference: prediction
    with pytest.raises(ValueError, match="tumour_gate"):
        PSNet(NetworkConfig(**{**SMALL.to_dict(), "pooling": "tumour", "tumour_gate": "oracle"}))


def test_lightning_training_step_feeds_the_reference_gate():
    from glioma.model.lightning import GliomaModule

    torch.manual_seed(0)
    module = GliomaModule(network={**SMALL.to_dict(), "pooling": "tumour", "tumour_gate": "reference"})
    seen = {}
    module.net.heads["idh"][0].register_forward_hook(lambda m, i, o: seen.update(features=i[0].detach()))
    seg = torch.zeros(2, 1, 12, 12, 12, dtype=torch.uint8)
    seg[:, :, 2:6, 3:8, 4:9] = 1
    batch = {"image": torch.randn(2, 4, 12, 12, 12), "seg": seg, "has_seg": torch.tensor([1, 1]),
             "idh": torch.tensor([0, 1]), "codeletion": torch.tensor([-1, 0]), "grade": torch.tensor([2, 0])}
    module.train()
    loss = module.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and module.net.contrasts.weight.grad.abs().sum() > 0
    # the last statistic is the log volume of the gate: the reference mask's 4 x 5 x 5 voxels
    torch.testing.assert_close(seen["features"][:, -1], torch.log1p(torch.full((2,), 100.0)))


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_codeletion_within_idh_is_the_product_of_idh_and_the_conditional(scale):
    torch.manual_seed(0)
    idh, cond = scale * torch.randn(64, 2), scale * torch.randn(64, 2)
    logp = codeletion_within_idh(idh, cond)
    p = logp.exp()
    expected = F.softmax(idh, 1)[:, 1] * F.softmax(cond, 1)[:, 1]
    torch.testing.assert_close(p[:, 1], expected.clamp(max=1 - 1e-6), atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(p.sum(1), torch.ones(64))
    # a certain IDH wildtype means a certain intact 1p/19q, whatever the 1p/19q head says
    wild = codeletion_within_idh(torch.tensor([[20.0, -20.0]]), torch.tensor([[-20.0, 20.0]])).exp()
    assert wild[0, 1] < 1e-6
    # finite cross-entropy and gradients even where both factors are certain
    idh.requires_grad_(True)
    cond.requires_grad_(True)
    loss = F.cross_entropy(codeletion_within_idh(idh, cond), torch.zeros(64, dtype=torch.long))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(idh.grad).all() and torch.isfinite(cond.grad).all()


def test_label_structure_codeletion_within_idh_in_the_network():
    torch.manual_seed(0)
    base = {**SMALL.to_dict(), "pooling": "tumour_only"}
    x = torch.randn(2, 4, 12, 12, 12)
    net = PSNet(NetworkConfig(**{**base, "label_structure": "codeletion_within_idh"})).eval()
    plain = PSNet(NetworkConfig(**base))
    plain.load_state_dict(net.state_dict())  # the same parameters: only the 1p/19q output differs
    plain.eval()
    with torch.no_grad():
        out, ref = net(x), plain(x)
    torch.testing.assert_close(out["idh"], ref["idh"])
    torch.testing.assert_close(out["codeletion"], codeletion_within_idh(ref["idh"], ref["codeletion"]))
    probs = predict_probabilities(out)["codeletion"]
    torch.testing.assert_close(probs[:, 1], F.softmax(ref["idh"], 1)[:, 1] * F.softmax(ref["codeletion"], 1)[:, 1])
    with pytest.raises(ValueError, match="label_structure"):
        PSNet(NetworkConfig(**{**base, "label_structure": "joint"}))


def test_ordinal_head_is_a_cumulative_link_model():
    from glioma.model.network import OrdinalHead

    torch.manual_seed(0)
    head = OrdinalHead(nn.Sequential(nn.Linear(5, 1)), 3)
    with torch.no_grad():
        head.cut.fill_(-0.7)
        head.gaps.fill_(0.3)
    x = 4 * torch.randn(64, 5, dtype=torch.float64)
    head = head.double()
    logp = head(x)
    t = head.thresholds()
    assert t.shape == (2,) and bool(t[1] > t[0])
    torch.testing.assert_close(t[1] - t[0], F.softplus(torch.tensor(0.3, dtype=torch.float64)) + head.MIN_GAP)
    # P(grade <= k) = sigmoid(t_k - s), computed here the naive way
    score = head.body(x)[:, 0]
    below = torch.sigmoid(t[None] - score[:, None])
    expected = torch.stack([below[:, 0], below[:, 1] - below[:, 0], 1 - below[:, 1]], dim=1)
    torch.testing.assert_close(logp.exp(), expected)
    torch.testing.assert_close(logp.exp().sum(1), torch.ones(64, dtype=torch.float64))
    # a higher score moves probability to the higher grades, for every cut
    order = torch.argsort(score)
    above = 1 - below[order]
    assert bool((above.diff(dim=0) >= 0).all())
    # finite log-probabilities and gradients at extreme scores
    with torch.no_grad():
        head.body[0].weight.mul_(1e4)
    loss = F.cross_entropy(head(x), torch.randint(0, 3, (64,)))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    with pytest.raises(ValueError, match="at least 2"):
        OrdinalHead(nn.Linear(5, 1), 1)


def test_grade_head_ordinal_in_the_network():
    torch.manual_seed(0)
    base = {**SMALL.to_dict(), "pooling": "tumour_only", "dense_units": 0}
    net = PSNet(NetworkConfig(**{**base, "grade_head": "ordinal"})).eval()
    head = net.heads["grade"]
    assert head.body[-1].out_features == 1
    with torch.no_grad():
        out = net(torch.randn(3, 4, 12, 12, 12))
    assert out["grade"].shape == (3, 3)
    torch.testing.assert_close(predict_probabilities(out)["grade"].sum(1), torch.ones(3))
    # with hidden units too
    hidden = PSNet(NetworkConfig(**{**base, "dense_units": 8, "grade_head": "ordinal"}))
    assert hidden.heads["grade"].body[-1].out_features == 1
    with pytest.raises(ValueError, match="grade_head"):
        PSNet(NetworkConfig(**{**base, "grade_head": "ranked"}))
    with pytest.raises(ValueError, match="who_classes"):
        PSNet(NetworkConfig(**{**base, "grade_head": "ordinal", "label_structure": "who_classes"}))


def test_who_marginals_are_sums_over_the_classes():
    torch.manual_seed(0)
    logits = 3 * torch.randn(16, len(WHO_CLASSES))
    out = who_marginals(logits)
    p = F.softmax(logits, 1)
    classes = torch.tensor(WHO_CLASSES)
    torch.testing.assert_close(out["idh"].exp()[:, 1], p[:, classes[:, 0] == 1].sum(1))
    torch.testing.assert_close(out["codeletion"].exp()[:, 1], p[:, classes[:, 1] == 1].sum(1))
    torch.testing.assert_close(out["grade"].exp()[:, 2], p[:, classes[:, 2] == 4].sum(1))
    for task in TASKS:
        torch.testing.assert_close(out[task].exp().sum(1), torch.ones(16))
    # a co-deleted tumour is IDH mutant and never grade IV: the marginals cannot say otherwise
    codeleted_only = torch.full((1, len(WHO_CLASSES)), -30.0)
    codeleted_only[0, WHO_CLASSES.index((1, 1, 3))] = 30.0
    certain = who_marginals(codeleted_only)
    assert certain["idh"].exp()[0, 1] > 0.999 and certain["grade"].exp()[0, 2] < 1e-6
    # masked cross-entropy on a marginal trains the one head
    net = PSNet(NetworkConfig(**{**SMALL.to_dict(), "pooling": "tumour_only", "label_structure": "who_classes"}))
    assert set(net.heads) == {"who"} and net.heads["who"][2].out_features == 8
    x = torch.randn(2, 4, 12, 12, 12)
    result = net(x)
    assert {k: tuple(v.shape) for k, v in result.items() if k != "seg"} == {"idh": (2, 2), "codeletion": (2, 2), "grade": (2, 3)}
    F.cross_entropy(result["grade"], torch.tensor([0, 2])).backward()
    assert net.heads["who"][0].weight.grad.abs().sum() > 0


def test_a_misspelt_setting_is_an_error_not_a_default():
    from glioma.errors import ConfigError
    from glioma.model.config import settings_from_config

    good = {"model": {"base_filters": 4, "depth": 3, "input_shape": None},
            "train": {"lr": 1e-3, "grid": {"lr": [1e-3]}, "augmentation": {"prob": 0.5}}}
    settings = settings_from_config(good)
    assert settings.network.base_filters == 4 and settings.train.augmentation.prob == 0.5
    for section, key, bad in (("model", "base_filter", 8), ("train", "learning_rate", 0.1),
                              ("train", "augmentation", {"probability": 0.5})):
        config = {s: dict(v) for s, v in good.items()}
        config[section][key] = bad
        with pytest.raises(ConfigError, match="unknown key"):
            settings_from_config(config)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_deep_supervision_heads_in_training_only(checkpointing):
    config = NetworkConfig(base_filters=2, depth=4, dense_units=0, dropout=0.0, deep_supervision=2,
                           activation_checkpointing=checkpointing, channels_last=False)
    net = PSNet(config).train()
    x = torch.randn(2, 4, 24, 30, 26)
    out = net(x)
    # decoder levels 1 and 2, finest first: the first downsampling is 9^3 stride 3
    assert [tuple(a.shape) for a in out["seg_aux"]] == [(2, 2, 8, 10, 8), (2, 2, 4, 5, 4)]
    sum(a.float().mean() for a in out["seg_aux"]).backward()
    assert all(h.weight.grad.abs().sum() > 0 for h in net.aux_heads)
    assert net.seg_head.weight.grad is None or net.seg_head.weight.grad.abs().sum() == 0
    # the heads start from the tumour prior, like the full-resolution one
    prior = torch.softmax(net.aux_heads[0](torch.zeros(1, 4, 1, 1, 1)), dim=1)[0, 1].item()
    assert prior == pytest.approx(config.seg_prior, rel=1e-4)
    net.eval()
    with torch.no_grad():
        assert "seg_aux" not in net(x)
    # off: no aux head, the same modules (and initialisation) as before the option existed
    torch.manual_seed(0)
    off = PSNet(NetworkConfig(base_filters=2, depth=4, dense_units=0))
    torch.manual_seed(0)
    on = PSNet(NetworkConfig(base_filters=2, depth=4, dense_units=0, deep_supervision=1))
    assert all(torch.equal(v, on.state_dict()[k]) for k, v in off.state_dict().items())
    assert len(off.aux_heads) == 0 and "seg_aux" not in off.train()(x)
    with pytest.raises(ValueError, match="deep_supervision"):
        PSNet(NetworkConfig(base_filters=2, depth=4, deep_supervision=3))
