"""Grad-CAM relative to a baseline input, and the floor below which a map counts as no evidence."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_ext.bundle.heatmap import OutputRecorder
from monai_ext.explain.attribution.gradcam import MIN_EVIDENCE, grad_cam, grad_cam_pp, layer_output

METHODS = [grad_cam, grad_cam_pp]


class BiasedShapeNet(nn.Module):
    """``score = mean(constant channel) + sign * mean(x)``: a constant background term beside the shape.

    Channel 0 of the feature layer is the constant 1 (zero weight, bias 1) wherever the input is; channel 1 is
    the input itself. Plain Grad-CAM spreads the constant term over every voxel.
    """

    def __init__(self, sign: float = 1.0) -> None:
        super().__init__()
        self.features = nn.Conv3d(1, 2, 1)
        with torch.no_grad():
            self.features.weight.zero_()
            self.features.weight[1] = 1.0
            self.features.bias.copy_(torch.tensor([1.0, 0.0]))
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.head = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[1.0, sign]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


def shape_input() -> tuple[torch.Tensor, torch.Tensor]:
    """A ``(1, 1, 16, 16, 16)`` input with a 4^3 cube of ones, and the cube's mask."""
    x = torch.zeros(1, 1, 16, 16, 16)
    x[..., 6:10, 6:10, 6:10] = 1.0
    return x, x[0, 0] > 0


@pytest.mark.parametrize("method", METHODS)
def test_the_baseline_removes_the_constant_background_term(method: object) -> None:
    net, (x, shape) = BiasedShapeNet(), shape_input()
    plain = method(net, x, "features")[0, 0]
    relative = method(net, x, "features", baseline=torch.zeros_like(x))[0, 0]
    assert float(plain[~shape].min()) > 0.3  # every background voxel lights up: most of the mass is off the shape
    assert float(plain[shape].sum() / plain.sum()) < 0.1
    assert float(relative[~shape].max()) == 0.0  # background equals the baseline exactly
    assert float(relative[shape].min()) == pytest.approx(1.0)


def test_a_shape_that_only_lowers_the_score_gives_an_empty_map() -> None:
    net, (x, _) = BiasedShapeNet(sign=-1.0), shape_input()
    assert float(grad_cam(net, x, "features").max()) == 1.0  # plain: the background term, hot everywhere else
    assert float(grad_cam(net, x, "features", baseline=torch.zeros_like(x)).max()) == 0.0


@pytest.mark.parametrize("weak", [1e-5, 1e-2])
def test_evidence_below_the_floor_is_no_evidence(weak: float) -> None:
    """Negative evidence of 1 on the shape, positive evidence ``weak`` on one voxel: kept only above the floor."""
    net, (x, _) = BiasedShapeNet(sign=-1.0), shape_input()
    x[..., 0, 0, 0] = -weak
    cam = grad_cam(net, x, "features", baseline=torch.zeros_like(x))[0, 0]
    if weak < MIN_EVIDENCE:
        assert float(cam.max()) == 0.0
    else:
        assert float(cam[0, 0, 0]) == 1.0 and float(cam[6:10, 6:10, 6:10].max()) == 0.0


def test_per_sample_maps_and_a_batch_of_one_baseline() -> None:
    net = BiasedShapeNet()
    x = torch.cat([shape_input()[0], shape_input()[0].roll(4, dims=2)])
    both = grad_cam(net, x, "features", baseline=torch.zeros(1, 1, 16, 16, 16))
    for b in range(2):
        alone = grad_cam(net, x[b : b + 1], "features", baseline=torch.zeros(1, 1, 16, 16, 16))
        torch.testing.assert_close(both[b], alone[0])


def test_a_baseline_that_does_not_fit_is_refused() -> None:
    net, (x, _) = BiasedShapeNet(), shape_input()
    for bad in (torch.zeros(1, 1, 8, 16, 16), torch.zeros(1, 2, 16, 16, 16), torch.zeros(3, 1, 16, 16, 16)):
        with pytest.raises(ValueError, match="does not fit the input"):
            grad_cam(net, x, "features", baseline=bad)
    with pytest.raises(KeyError, match="no layer 'nope'"):
        grad_cam(net, x, "nope", baseline=torch.zeros_like(x))


def test_the_recorder_keeps_the_output_of_the_input_not_of_the_baseline() -> None:
    net, (x, _) = BiasedShapeNet(), shape_input()
    recorder = OutputRecorder(net)
    grad_cam(recorder, x, OutputRecorder.layer("features"), baseline=torch.zeros_like(x))
    assert recorder.output is not None
    torch.testing.assert_close(recorder.output, net(x).detach())


def test_layer_output_leaves_the_model_as_it_was() -> None:
    net = BiasedShapeNet().train()
    out = layer_output(net, torch.zeros(1, 1, 4, 4, 4), "features")
    assert out.shape == (1, 2, 4, 4, 4) and not out.requires_grad
    assert net.training and not net.features._forward_hooks
    torch.testing.assert_close(out[0, 0], torch.ones(4, 4, 4))
