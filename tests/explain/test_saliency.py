"""Gradient saliency: exact on a linear model, in [0, 1], reproducible, model and global RNG untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_ext.explain.attribution.saliency import smooth_grad, vanilla_gradient


def _linear(channels: int = 1) -> nn.Sequential:
    linear = nn.Linear(channels * 6 * 6 * 6, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(2, channels * 216, generator=torch.Generator().manual_seed(3)))
    return nn.Sequential(nn.Flatten(), linear)


def _weight(net: nn.Sequential) -> torch.Tensor:
    linear = net[1]
    assert isinstance(linear, nn.Linear)
    return linear.weight


def _conv_net(dims: int = 3) -> nn.Module:
    conv, pool = (nn.Conv3d, nn.AdaptiveAvgPool3d) if dims == 3 else (nn.Conv2d, nn.AdaptiveAvgPool2d)
    torch.manual_seed(0)
    return nn.Sequential(conv(1, 4, 3, padding=1), nn.BatchNorm3d(4) if dims == 3 else nn.BatchNorm2d(4),
                         nn.ReLU(), pool(1), nn.Flatten(), nn.Linear(4, 3))  # fmt: skip


def test_linear_model_gradient_is_abs_weights() -> None:
    net = _linear()
    x = torch.rand(2, 1, 6, 6, 6)
    weights = _weight(net).detach().abs().reshape(2, 1, 6, 6, 6)
    expected = weights / weights.flatten(1).amax(1).reshape(2, 1, 1, 1, 1)
    torch.testing.assert_close(vanilla_gradient(net, x, target=[0, 1]), expected)
    # the gradient of a linear model does not depend on the input: SmoothGrad gives the same map
    torch.testing.assert_close(smooth_grad(net, x, target=[0, 1], samples=3), expected, atol=1e-6, rtol=1e-5)
    # several channels: the maximum over channels
    net2 = _linear(channels=2)
    w2 = _weight(net2).detach().abs().reshape(2, 2, 6, 6, 6)[1].amax(0)
    torch.testing.assert_close(vanilla_gradient(net2, torch.rand(1, 2, 6, 6, 6), target=1)[0, 0], w2 / w2.max())


@pytest.mark.parametrize("dims", [2, 3])
def test_shape_and_range(dims: int) -> None:
    net = _conv_net(dims)
    x = torch.rand(2, 1, *([8] * dims))
    for heat in (vanilla_gradient(net, x), smooth_grad(net, x, samples=4, batch_size=3)):
        assert heat.shape == (2, 1, *([8] * dims)) and heat.dtype == torch.float32
        assert heat.min() >= 0 and torch.allclose(heat.flatten(1).amax(1), torch.ones(2))
        assert not heat.requires_grad


def test_smooth_grad_reproducible_local_generator() -> None:
    net = _conv_net()
    x = torch.rand(2, 1, 8, 8, 8)
    state = torch.get_rng_state()
    first = smooth_grad(net, x, target=[1, 2], samples=5, seed=7, batch_size=4)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is neither used nor advanced
    torch.manual_seed(123)  # and does not matter
    assert torch.equal(smooth_grad(net, x, target=[1, 2], samples=5, seed=7, batch_size=4), first)
    torch.testing.assert_close(smooth_grad(net, x, target=[1, 2], samples=5, seed=7, batch_size=1), first)
    assert not torch.allclose(smooth_grad(net, x, target=[1, 2], samples=5, seed=8), first)
    # per-sample results: the first sample alone sees the same noise
    torch.testing.assert_close(smooth_grad(net, x[:1], target=1, samples=5, seed=7), first[:1])
    # no noise: the vanilla gradient
    torch.testing.assert_close(smooth_grad(net, x, samples=2, noise=0.0), vanilla_gradient(net, x))


def test_model_untouched_no_grad_left() -> None:
    net = _conv_net().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():  # works inside evaluators
        vanilla_gradient(net, torch.rand(2, 1, 8, 8, 8), target=lambda out: out[:, 0] - out[:, 1])
        smooth_grad(net, torch.rand(2, 1, 8, 8, 8), samples=3)
    with torch.inference_mode():  # and inside inference-mode runners
        assert vanilla_gradient(net, torch.rand(1, 1, 8, 8, 8)).max() == 1
    assert all(p.grad is None for p in net.parameters())
    assert all(m.training for m in net.modules())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)
    with pytest.raises(ValueError, match="does not fit"):
        vanilla_gradient(net, torch.rand(2, 1, 8, 8, 8), target=3)
    with pytest.raises(ValueError, match="samples"):
        smooth_grad(net, torch.rand(1, 1, 8, 8, 8), samples=0)
