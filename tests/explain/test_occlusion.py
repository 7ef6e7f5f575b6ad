"""Occlusion sensitivity: plan counts, the map peaks where the score comes from, batched = per sample."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from monai_ext.explain.attribution.occlusion import OcclusionPlan, occlusion_sensitivity, plan_occlusion

REGION = (slice(4, 8), slice(8, 12), slice(2, 6))  # the only voxels the score depends on (16^3 inputs)


class RegionNet(nn.Module):
    """Class 1's logit is 4x the mean of a 1x1x1 conv over ``REGION``; class 0's is 0. Counts its calls."""

    def __init__(self, outputs: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 1, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
        self.norm = nn.BatchNorm3d(1)  # would update its statistics in training mode
        self.outputs = outputs
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        logit = 4 * self.norm(self.conv(x))[(slice(None), 0, *REGION)].mean(dim=(1, 2, 3))
        return logit[:, None] if self.outputs == 1 else torch.stack([torch.zeros_like(logit), logit], dim=1)


def _tiny_net(dims: int = 3) -> nn.Module:
    conv, pool = (nn.Conv3d, nn.AdaptiveAvgPool3d) if dims == 3 else (nn.Conv2d, nn.AdaptiveAvgPool2d)
    return nn.Sequential(conv(2, 4, 3, padding=1), nn.ReLU(), pool(2), nn.Flatten(), nn.Linear(4 * 2**dims, 3))


def test_plan_counts() -> None:
    plan = plan_occlusion((2, 1, 16, 16, 16), patch=8, stride=4)
    assert plan.grid == (3, 3, 3) and plan.patches == 27 and plan.copies == 54
    assert plan.forward_passes == 56 and plan.batches(16) == 4 + 1 and plan.batches(1) == 54 + 2
    regions = list(plan.regions())
    assert len(regions) == plan.patches and len({tuple((r.start, r.stop) for r in rs) for rs in regions}) == 27
    # uneven sizes: a last patch flush with the end; per-axis patches; patches clipped to the input
    uneven = plan_occlusion((1, 3, 10, 7), patch=4, stride=4)
    assert uneven.starts == ((0, 4, 6), (0, 3)) and uneven.patches == 6
    covered = torch.zeros(10, 7)
    for region in uneven.regions():
        covered[region] += 1
    assert covered.min() >= 1
    assert plan_occlusion((1, 1, 8, 8), patch=(2, 8), stride=(2, 8)).grid == (4, 1)
    assert plan_occlusion((1, 1, 3, 3), patch=8, stride=8).patch == (3, 3)
    with pytest.raises(ValueError, match="patch"):
        plan_occlusion((1, 1, 8, 8), patch=0, stride=1)
    with pytest.raises(ValueError, match="stride"):
        plan_occlusion((1, 1, 8, 8), patch=2, stride=(1, 1, 1))


def test_map_peaks_where_the_score_comes_from() -> None:
    x = torch.rand(1, 1, 16, 16, 16, generator=torch.Generator().manual_seed(0)) + 0.5
    heat = occlusion_sensitivity(RegionNet(), x, target=1, patch=4, stride=2)
    assert heat.shape == (1, 1, 16, 16, 16) and heat.dtype == torch.float32
    assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert heat[(0, 0, *REGION)].min() > 0.3
    peak = torch.unravel_index(heat.argmax(), heat.shape)
    assert all(r.start <= int(p) < r.stop for r, p in zip(REGION, peak[2:], strict=True))
    far = torch.ones(16, 16, 16, dtype=torch.bool)  # voxels no patch touching the region covers
    far[tuple(slice(max(r.start - 3, 0), r.stop + 3) for r in REGION)] = False
    assert heat[0, 0][far].max() == 0
    # a single output is explained through its sigmoid (a softmax of one output would give a zero map)
    single = occlusion_sensitivity(RegionNet(outputs=1), x, patch=4, stride=2)
    assert single[(0, 0, *REGION)].min() > 0.3 and single[0, 0][far].max() == 0


def test_mean_drop_of_the_softmax_probability() -> None:
    torch.manual_seed(2)
    net = _tiny_net()
    x = torch.rand(1, 2, 8, 8, 8)
    heat = occlusion_sensitivity(net, x, target=2, patch=4, baseline=0.5)  # 8 patches, no overlap
    with torch.no_grad():
        prob = torch.softmax(net(x), dim=1)[0, 2]
        expected = torch.zeros(8, 8, 8)
        for corner in itertools.product((0, 4), repeat=3):
            region = tuple(slice(c, c + 4) for c in corner)
            occluded = x.clone()
            occluded[0][(slice(None), *region)] = 0.5
            expected[region] = prob - torch.softmax(net(occluded), dim=1)[0, 2]
    expected = expected.clamp_min(0)
    assert expected.max() > 0 and expected.min() == 0  # some patches lower the score, others do not
    torch.testing.assert_close(heat[0, 0], expected / expected.max(), atol=1e-3, rtol=0)


def test_on_plan_called_once_up_front() -> None:
    net = RegionNet()
    calls: list[tuple[OcclusionPlan, float, int]] = []
    x = torch.rand(3, 1, 16, 16, 16)
    occlusion_sensitivity(net, x, patch=8, batch_size=4, on_plan=lambda p, s: calls.append((p, s, net.calls)))
    ((plan, seconds, calls_so_far),) = calls
    assert plan.patches == 8 and plan.forward_passes == 3 * 8 + 3
    assert seconds > 0
    assert calls_so_far == 2  # the references (one batch) and the timed first batch of occluded copies
    assert net.calls == plan.batches(4) == 6 + 1


def test_batch_equals_per_sample_and_batch_size_free() -> None:
    torch.manual_seed(0)
    net = _tiny_net()
    x = torch.rand(3, 2, 8, 8, 8)
    batch = occlusion_sensitivity(net, x, target=[0, 2, 1], patch=4, stride=2, batch_size=5)
    single = [occlusion_sensitivity(net, x[i : i + 1], target=t, patch=4, stride=2) for i, t in enumerate((0, 2, 1))]
    torch.testing.assert_close(batch, torch.cat(single), atol=1e-5, rtol=1e-4)
    auto = occlusion_sensitivity(net, x, patch=4, stride=2, batch_size=1)  # None: each sample's arg-max class
    with torch.no_grad():
        classes = net(x).argmax(1).tolist()
    torch.testing.assert_close(auto, occlusion_sensitivity(net, x, target=classes, patch=4, stride=2))


def test_model_untouched_under_no_grad_and_2d() -> None:
    net = RegionNet().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        occlusion_sensitivity(net, torch.rand(2, 1, 16, 16, 16), target=lambda out: out[:, 1], patch=8)
    with torch.inference_mode():
        occlusion_sensitivity(net, torch.rand(1, 1, 16, 16, 16), patch=8)
    assert all(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)
    heat2d = occlusion_sensitivity(_tiny_net(dims=2), torch.rand(2, 2, 12, 10), patch=(4, 5))
    assert heat2d.shape == (2, 1, 12, 10) and 0 <= heat2d.min() <= heat2d.max() <= 1
    with pytest.raises(ValueError, match="does not fit"):
        occlusion_sensitivity(_tiny_net(), torch.rand(2, 2, 8, 8, 8), target=[0, 1, 2], patch=4)
