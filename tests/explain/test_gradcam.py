"""Grad-CAM: hooks removed, model untouched, maps in [0, 1] in the input grid, per-sample targets, right place."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_ext.explain import grad_cam
from monai_ext.networks import Discriminator


class RegionMask(nn.Module):
    """Channel 0 kept only in the low octant, channel 1 only in the high octant (16^3 inputs)."""

    def __init__(self) -> None:
        super().__init__()
        mask = torch.zeros(2, 16, 16, 16)
        mask[0, :8, :8, :8] = 1
        mask[1, 8:, 8:, 8:] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class RegionNet(nn.Module):
    """Two-class net: class 0 sees only the low octant of the input, class 1 only the high octant."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv3d(1, 2, 1), nn.ReLU(), RegionMask())
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
            self.features[0].bias.zero_()
        self.norm = nn.BatchNorm3d(2)  # changes state in training mode: Grad-CAM must not touch it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.features(x)).mean(dim=(2, 3, 4))


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_map_peaks_where_the_network_looks_per_sample_targets() -> None:
    torch.manual_seed(0)
    net = RegionNet()
    x = torch.rand(2, 1, 16, 16, 16) + 0.5
    cam = grad_cam(net, x, "features", target=[0, 1])
    assert cam.shape == (2, 1, 16, 16, 16)
    assert cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    low, high = (0, slice(0, 7), slice(0, 7), slice(0, 7)), (0, slice(9, 16), slice(9, 16), slice(9, 16))
    assert cam[0][low].min() > 0.2 and cam[0][high].max() == 0  # class 0: low corner only
    assert cam[1][high].min() > 0.2 and cam[1][low].max() == 0  # class 1: high corner only
    # the same batch explained for class 0 only: both samples look at the low corner
    both0 = grad_cam(net, x, "features", target=0)
    assert both0[1][low].min() > 0.2 and both0[1][high].max() == 0
    # default target: each sample's arg-max class
    brighter_high = x.clone()
    brighter_high[1, :, 8:, 8:, 8:] += 5
    auto = grad_cam(net, brighter_high, "features")
    assert auto[1][high].min() > 0.2 and auto[1][low].max() == 0
    # a callable target picks the same scores as the index
    torch.testing.assert_close(
        grad_cam(net, x, "features", target=lambda out: out[:, 1]), grad_cam(net, x, "features", 1)
    )


def test_model_unchanged_and_hooks_removed() -> None:
    net = RegionNet().train()
    for p in net.features.parameters():
        p.requires_grad_(False)  # a frozen layer must still be explainable
    before = {k: v.clone() for k, v in net.state_dict().items()}
    flags = {n: p.requires_grad for n, p in net.named_parameters()}
    hooks = _hook_count(net)
    with torch.no_grad():  # works inside evaluators, which run under no_grad
        cam = grad_cam(net, torch.rand(3, 1, 16, 16, 16), "features.1", target=None)
    assert cam.shape == (3, 1, 16, 16, 16) and not cam.requires_grad
    assert _hook_count(net) == hooks
    assert net.training and all(m.training for m in net.modules())
    assert {n: p.requires_grad for n, p in net.named_parameters()} == flags
    assert all(p.grad is None for p in net.parameters())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)


def test_hooks_removed_on_error_and_bad_arguments() -> None:
    net = RegionNet()
    hooks = _hook_count(net)
    with pytest.raises(KeyError, match="no layer"):
        grad_cam(net, torch.rand(1, 1, 16, 16, 16), "nope")
    with pytest.raises(ValueError, match="does not fit"):
        grad_cam(net, torch.rand(2, 1, 16, 16, 16), "features", target=[0, 1, 1])
    with pytest.raises(ValueError, match="does not fit"):
        grad_cam(net, torch.rand(1, 1, 16, 16, 16), "features", target=5)
    assert _hook_count(net) == hooks


def test_discriminator_scalar_logit_map() -> None:
    torch.manual_seed(0)
    d = Discriminator(channels=(4, 8), spatial_size=16)
    x = torch.rand(2, 1, 16, 16, 16)
    cam = grad_cam(d, x, "stages.1")
    assert cam.shape == (2, 1, 16, 16, 16) and cam.dtype == torch.float32
    assert cam.min() >= 0 and cam.max() <= 1
    # each sample's map is its own: explaining sample 1 alone gives the same map
    torch.testing.assert_close(grad_cam(d, x[1:], "stages.1"), cam[1:], atol=1e-5, rtol=1e-4)


def test_no_positive_evidence_gives_zero_map_and_2d_works() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Flatten(), nn.Linear(64, 1))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.zero_()
        net[2].weight.fill_(-1.0)  # every feature lowers the score
    cam = grad_cam(net, torch.rand(2, 1, 8, 8), "0")
    assert cam.shape == (2, 1, 8, 8) and torch.count_nonzero(cam) == 0
