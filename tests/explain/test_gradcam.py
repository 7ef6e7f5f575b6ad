"""Grad-CAM and Grad-CAM++: hooks removed, model untouched, maps in [0, 1] in the input grid, per-sample targets,
right place, the same maps as MONAI; automatic target layer; fast upsampling."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from monai.networks.nets import DenseNet121
from monai.visualize import GradCAM, GradCAMpp
from torch import nn

from monai_ext.explain.attribution.gradcam import default_target_layer, grad_cam, grad_cam_pp, upsample_map
from monai_ext.networks import Classifier, Discriminator

METHODS = [grad_cam, grad_cam_pp]


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


def _small_classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier(spatial_dims=3, in_channels=1, out_channels=3, channels=(4, 8, 8), strides=(2, 2, 2)).eval()


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (a.norm() * b.norm()))


@pytest.fixture(scope="module")
def densenet() -> DenseNet121:
    torch.manual_seed(1)
    return DenseNet121(spatial_dims=3, in_channels=1, out_channels=2).eval()


def test_default_target_layer_classifier_is_the_last_backbone_map() -> None:
    torch.manual_seed(0)
    net = Classifier(spatial_dims=3, in_channels=2, out_channels=2)
    x = torch.rand(1, 2, 64, 64, 64)
    name = default_target_layer(net, x)
    assert name.startswith("backbone.")
    sizes: list[torch.Size] = []
    layer = dict(net.named_modules())[name]
    handle = layer.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape))
    with torch.no_grad():
        expected = net.eval().backbone(x)
    handle.remove()
    assert sizes[-1] == expected.shape == (1, 128, 4, 4, 4)
    # the deepest module holding the final (post-activation) values, not the norm before the in-place ReLU
    assert name == "backbone.stages.3.1.adn.A"
    torch.testing.assert_close(grad_cam(net, x, name, 1), grad_cam(net, x, "backbone", 1))
    torch.testing.assert_close(grad_cam(net, x, None, 1), grad_cam(net, x, "backbone", 1))


@pytest.mark.slow
def test_default_target_layer_densenet121(densenet: DenseNet121) -> None:
    name = default_target_layer(densenet, torch.rand(1, 1, 96, 96, 96))
    assert name == "class_layers.relu"  # norm5 (3x3x3, 1024 channels) after the in-place ReLU, MONAI's usual pick
    assert _hook_count(densenet) == 0


def test_default_target_layer_skips_1x1x1_maps_and_rejects_non_spatial_models() -> None:
    net = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.Conv3d(2, 2, 8), nn.Flatten(), nn.Linear(2, 1))
    assert default_target_layer(net, torch.rand(2, 1, 8, 8, 8)) == "0"  # "1" gives 1x1x1
    with pytest.raises(ValueError, match="larger than 1 voxel"):
        default_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(8, 2)), torch.rand(2, 1, 2, 2, 2))
    assert _hook_count(net) == 0


@pytest.mark.parametrize("method", METHODS)
def test_per_sample_targets_match_each_sample_alone(method: object) -> None:
    net, x = _small_classifier(), torch.rand(2, 1, 32, 32, 32)
    cams = method(net, x, "backbone.stages.1", target=torch.tensor([0, 2]))  # type: ignore[operator]
    for b, label in enumerate((0, 2)):
        alone = method(net, x[b : b + 1], "backbone.stages.1", label)  # type: ignore[operator]
        torch.testing.assert_close(cams[b : b + 1], alone, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(cams[0], method(net, x[:1], "backbone.stages.1", 2)[0])  # type: ignore[operator]


@pytest.mark.parametrize("method", METHODS)
def test_no_side_effects_under_no_grad_inference_and_autocast(method: object) -> None:
    net = _small_classifier().train()
    net.backbone.stages[0].requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(2, 1, 32, 32, 32)
    with torch.no_grad():
        cam = method(net, x, None, target=[1, 0])  # type: ignore[operator]
        assert not torch.is_grad_enabled()
    with torch.inference_mode():
        assert torch.equal(method(net, x, None, target=[1, 0]), cam)  # type: ignore[operator]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = method(net, x, None, target=[1, 0])  # type: ignore[operator]
    assert torch.equal(bf16, cam) and cam.dtype == torch.float32 and not cam.requires_grad
    assert torch.is_grad_enabled()
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in net.modules())
    assert net.training and all(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    assert [p.requires_grad for p in net.backbone.stages[0].parameters()] == [False] * 3
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # bitwise: BN statistics too


@pytest.mark.parametrize(("ours", "theirs"), [(grad_cam, GradCAM), (grad_cam_pp, GradCAMpp)])
def test_same_maps_as_monai_small_cnn(ours: object, theirs: type) -> None:
    net, x = _small_classifier(), torch.rand(1, 1, 32, 32, 32)
    with torch.no_grad():
        net.head[3].weight.mul_(1e4)  # MONAI's GradCAMpp adds 1e-7 to alpha's denominator: keep gradients >> that
    for layer in ("backbone.stages.1", "backbone.stages.2"):
        for label in range(3):
            cam = ours(net, x, layer, label)  # type: ignore[operator]
            reference = 1 - theirs(copy.deepcopy(net), layer)(x, class_idx=label)  # MONAI: 0 = most important
            assert _pearson(cam, reference) >= 0.99, (layer, label)


@pytest.mark.slow
@pytest.mark.parametrize(("ours", "theirs"), [(grad_cam, GradCAM), (grad_cam_pp, GradCAMpp)])
def test_same_maps_as_monai_densenet121(densenet: DenseNet121, ours: object, theirs: type) -> None:
    x = torch.rand(1, 1, 64, 64, 64)  # a 2x2x2 map
    cam = ours(densenet, x, "class_layers.relu", 1)  # type: ignore[operator]
    reference = 1 - theirs(copy.deepcopy(densenet), "class_layers.relu")(x, class_idx=1)
    assert _pearson(cam, reference) >= 0.99


def test_grad_cam_pp_looks_at_the_right_place() -> None:
    net, x = RegionNet(), torch.rand(2, 1, 16, 16, 16) + 0.5
    cam = grad_cam_pp(net, x, "features", target=[0, 1])
    assert cam.shape == (2, 1, 16, 16, 16) and cam.max() == pytest.approx(1.0)
    assert cam[0, 0, :7, :7, :7].min() > 0.2 and cam[0, 0, 9:, 9:, 9:].max() == 0
    assert cam[1, 0, 9:, 9:, 9:].min() > 0.2 and cam[1, 0, :7, :7, :7].max() == 0


def test_in_place_layer_after_the_target_and_bad_layers() -> None:
    net = nn.Sequential(
        nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(inplace=True), nn.AdaptiveAvgPool3d(1), nn.Flatten()
    ).eval()
    x = torch.rand(2, 1, 8, 8, 8)
    assert grad_cam(net, x, "1", 0).shape == (2, 1, 8, 8, 8)  # the ReLU works in place on the layer's output
    with pytest.raises(ValueError, match=r"\(B, C, \*spatial\)"):
        grad_cam(net, x, "4", 0)
    branch = nn.ModuleDict({"used": nn.Conv3d(1, 1, 1), "unused": nn.Conv3d(1, 1, 1)})

    class Branches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.b = branch

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.b["unused"](x)
            return self.b["used"](x).mean(dim=(2, 3, 4))

    with pytest.raises(ValueError, match="do not depend"):
        grad_cam(Branches(), x, "b.unused", 0)
    assert _hook_count(net) == 0 and _hook_count(branch) == 0


@pytest.mark.parametrize(
    ("shape", "size"),
    [((2, 1, 5), (17,)), ((1, 2, 3, 4), (9, 2)), ((2, 1, 3, 4, 5), (7, 8, 9)), ((1, 1, 8, 8, 8), (8, 3, 20))],
)
def test_upsample_map_matches_torch_interpolate(shape: tuple[int, ...], size: tuple[int, ...]) -> None:
    cam = torch.rand(shape, dtype=torch.float64)
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(size)]
    expected = F.interpolate(cam.float(), size=size, mode=mode, align_corners=False)
    out = upsample_map(cam, size)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    same = torch.rand(1, 1, 4, 4)
    assert torch.equal(upsample_map(same, (4, 4)), same) and upsample_map(same, (4, 4)).data_ptr() != same.data_ptr()
    with pytest.raises(ValueError, match="spatial dims"):
        upsample_map(same, (4, 4, 4))
