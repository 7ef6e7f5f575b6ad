"""Test-time flip averaging: the passes it averages, exact equivariance, and refused axes."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import SlidingWindowInferer
from torch import nn

from monai_ext.inferers import FlipAveragingInferer


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 3, 3, padding=1)).eval()


def test_passes_are_every_subset_of_the_axes() -> None:
    assert FlipAveragingInferer(spatial_axes=[0]).flips() == [(), (0,)]
    assert len(FlipAveragingInferer(spatial_axes=[0, 1, 2]).flips()) == 8
    assert FlipAveragingInferer(spatial_axes=[]).flips() == [()]


def test_output_is_the_mean_of_the_mirrored_passes() -> None:
    net, x = _net(), torch.rand(2, 1, 9, 10, 7)
    with torch.no_grad():
        got = FlipAveragingInferer(spatial_axes=[0, 2])(x, net)
        want = sum(torch.flip(net(torch.flip(x, d)), d) if d else net(x) for d in ([], [2], [4], [2, 4])) / 4
    assert got.shape == (2, 3, 9, 10, 7)
    assert torch.allclose(got, want, atol=1e-6)


def test_no_axes_is_one_plain_pass() -> None:
    net, x = _net(), torch.rand(1, 1, 6, 6, 6)
    with torch.no_grad():
        assert torch.equal(FlipAveragingInferer(spatial_axes=[])(x, net), net(x))


def test_averaged_output_is_exactly_mirror_equivariant_even_when_the_network_is_not() -> None:
    net, x = _net(), torch.rand(1, 1, 12, 8, 8)
    inferer = FlipAveragingInferer(inferer=SlidingWindowInferer(roi_size=(8, 8, 8), overlap=0.25), spatial_axes=[0])
    with torch.no_grad():
        plain = net(torch.flip(x, [2])) - torch.flip(net(x), [2])
        averaged = inferer(torch.flip(x, [2]), net) - torch.flip(inferer(x, net), [2])
    assert plain.abs().max() > 1e-3  # the network alone is not symmetric
    assert averaged.abs().max() < 1e-5


@pytest.mark.parametrize("axes", [[0, 0], [-1]])
def test_repeated_or_negative_axes_are_refused(axes: list[int]) -> None:
    with pytest.raises(ValueError, match="distinct non-negative"):
        FlipAveragingInferer(spatial_axes=axes)


def test_an_axis_beyond_the_input_is_refused() -> None:
    with pytest.raises(ValueError, match="exceed the input's 2 spatial axes"):
        FlipAveragingInferer(spatial_axes=[2])(torch.rand(1, 1, 4, 4), nn.Identity())


def test_a_classifier_output_is_averaged_without_flipping_back() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(1, 2, 3), nn.AdaptiveAvgPool3d(1), nn.Flatten()).eval()
    x = torch.rand(2, 1, 6, 7, 8)
    with torch.no_grad():
        got = FlipAveragingInferer(spatial_axes=[1])(x, net)
        want = (net(x) + net(torch.flip(x, [3]))) / 2
    assert got.shape == (2, 2)
    assert torch.allclose(got, want, atol=1e-6)
